import type { Server } from 'node:http'
import { createHttpServer, reportRoute } from '@sluice/internal/http'
import type { ServiceMetrics } from './metrics.js'

/**
 * The TCP service's status over HTTP, on a port of its own: `GET /health` (`200 ok` while the
 * process serves) and `GET /metrics` (Prometheus text); anything else is `404`.
 */
export function createStatusServer(metrics: ServiceMetrics): Server {
  const reports = reportRoute({}, () => metrics.render())
  return createHttpServer((req, res) => {
    if (reports(req, res)) return
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('only /health and /metrics here\n')
  })
}
