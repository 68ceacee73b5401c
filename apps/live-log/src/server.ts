import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { createHandlers, type FstreamServerOptions } from '@sluice/fstream-server'
import { closeSessionsOnClose, createHttpServer } from '@sluice/internal/http'

const page = readFileSync(new URL('./page/index.html', import.meta.url))

/**
 * fstream-server's handlers under `/logs/…` plus the page at `/`: the page follows a log with
 * the browser's WebSocket (subprotocol fstream.v1) and appends lines typed in its form.
 */
export function createLiveLogServer(options: FstreamServerOptions): Server {
  const fstream = createHandlers(options)
  const server = createHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://live-log').pathname
    if (path === '/' || path === '/index.html') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('use GET\n')
        return
      }
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Length': page.length,
        'Cache-Control': 'no-cache',
      })
      res.end(req.method === 'HEAD' ? undefined : page)
      return
    }
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
