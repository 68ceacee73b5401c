import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { createHandlers, type FstreamServerOptions } from '@sluice/fstream-server'
import { CLOSE, PROTOCOL, parseControl, QUERY } from '@sluice/internal/fstream'
import { closeSessionsOnClose, createHttpServer, sendAsset } from '@sluice/internal/http'

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

/** Most logs the page's picker lists. */
const MAX_LISTED = 500

/**
 * fstream-server's handlers under `/logs/…` plus the page at `/`: the page follows a log with
 * the browser's WebSocket (subprotocol fstream.v1) and appends lines typed in its form. `/logs.json`
 * lists the logs for the page's picker (and names the node); `/health` and `/metrics` are fstream-server's (the page
 * shows its follower count).
 */
export interface LiveLogOptions extends FstreamServerOptions {
  /** Which node this is, when several serve the same logs (NATS JetStream): the page shows it. */
  readonly node?: string
}

export function createLiveLogServer(options: LiveLogOptions): Server {
  const fstream = createHandlers(options)
  const server = createHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://live-log').pathname
    if (path === '/fstream-protocol.js')
      return sendAsset(req, res, protocolModule, 'text/javascript')
    if (path === '/' || path === '/index.html') return sendAsset(req, res, page, 'text/html')
    if (path === '/logs.json') {
      fstream.storage
        .list('logs', MAX_LISTED)
        .then((paths) => paths.map((path) => `/${path}`))
        .then(
          (logs) => {
            const listing = { logs, ...(options.node === undefined ? {} : { node: options.node }) }
            sendAsset(req, res, Buffer.from(JSON.stringify(listing)), 'application/json')
          },
          () => res.writeHead(500).end(),
        )
      return
    }
    if (path === (options.healthPath ?? '/health') || path === (options.metricsPath ?? '/metrics'))
      return fstream.handleRequest(req, res)
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
