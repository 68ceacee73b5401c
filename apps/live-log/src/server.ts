import { readFileSync } from 'node:fs'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createHandlers, type FstreamServerOptions } from '@sluice/fstream-server'
import { CLOSE, PROTOCOL, parseControl, QUERY } from '@sluice/internal/fstream'
import { closeSessionsOnClose, createHttpServer } from '@sluice/internal/http'

const page = readFileSync(new URL('./page/index.html', import.meta.url))

/** The fstream.v1 protocol module, as the page imports it: its one home, served as it is. */
const protocolModule = Buffer.from(
  [
    `export const PROTOCOL = ${JSON.stringify(PROTOCOL)}`,
    `export const QUERY = ${JSON.stringify(QUERY)}`,
    `export const CLOSE = ${JSON.stringify(CLOSE)}`,
    `export const parseControl = ${parseControl.toString()}`,
  ].join('\n'),
)

/** Answers GET/HEAD of one of the page's own files (always revalidated: it is a demo). */
function sendAsset(req: IncomingMessage, res: ServerResponse, body: Buffer, type: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('use GET\n')
    return
  }
  res.writeHead(200, {
    'Content-Type': `${type}; charset=utf-8`,
    'Content-Length': body.length,
    'Cache-Control': 'no-cache',
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}

/**
 * fstream-server's handlers under `/logs/…` plus the page at `/`: the page follows a log with
 * the browser's WebSocket (subprotocol fstream.v1) and appends lines typed in its form.
 */
export function createLiveLogServer(options: FstreamServerOptions): Server {
  const fstream = createHandlers(options)
  const server = createHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://live-log').pathname
    if (path === '/fstream-protocol.js')
      return sendAsset(req, res, protocolModule, 'text/javascript')
    if (path === '/' || path === '/index.html') return sendAsset(req, res, page, 'text/html')
    if (!path.startsWith('/logs/')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('logs live under /logs/\n')
      return
    }
    fstream.handleRequest(req, res)
  }, options)
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://live-log').pathname
    if (path.startsWith('/logs/')) fstream.handleUpgrade(req, socket, head)
    else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
  })
  closeSessionsOnClose(server, fstream.close)
  return server
}
