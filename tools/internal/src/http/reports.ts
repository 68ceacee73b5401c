import type { IncomingMessage, ServerResponse } from 'node:http'
import { rawPathOf } from '../fs/beneath.js'
import { METRICS_CONTENT_TYPE } from './metrics.js'

/** Where a server answers its health check and its metrics. */
export interface ReportPaths {
  /** Path of the health check, `200 ok` (default `/health`). */
  readonly healthPath?: string | undefined
  /** Path of the Prometheus metrics (default `/metrics`). */
  readonly metricsPath?: string | undefined
}

/**
 * The route of a server's reports: `GET`/`HEAD` of the health path answers `200 ok`, of the metrics
 * path the Prometheus text `render()` gives, both `Cache-Control: no-store`; other methods get
 * `405` with `Allow`. The returned function answers a request for either path and returns true,
 * or returns false and leaves any other request alone.
 */
export function reportRoute(
  paths: ReportPaths,
  render: () => string | Promise<string>,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const health = paths.healthPath ?? '/health'
  const metrics = paths.metricsPath ?? '/metrics'
  return (req, res) => {
    const path = rawPathOf(req.url)
    if (path !== health && path !== metrics) return false
    const method = req.method ?? 'GET'
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      if (res.headersSent || res.destroyed) return
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' })
      res.end(method === 'HEAD' ? undefined : body)
    }
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      send(405, `${method} is not supported at ${path}\n`)
    } else if (path === health) {
      send(200, 'ok\n')
    } else {
      Promise.resolve()
        .then(render)
        .then(
          (text) => send(200, text, METRICS_CONTENT_TYPE),
          (error: Error) => send(500, `cannot gather the metrics: ${error.message}\n`),
        )
    }
    return true
  }
}
