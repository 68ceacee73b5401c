import { readFileSync } from 'node:fs'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import {
  createHttpServer,
  observeRequest,
  reportRoute,
  type ServerTimeouts,
  sendAsset,
  whenClientLeaves,
} from '@sluice/internal/http'
import { BackendPool, type BackendPoolOptions } from './backend-pool.js'
import { BackendError, streamRandomBytes } from './backend-stream.js'
import type { BackendSource } from './backends.js'
import { GatewayMetrics } from './metrics.js'
import { DEFAULT_MAX_SIZE } from './service.js'

const page = readFileSync(new URL('./page/index.html', import.meta.url))

export interface GatewayOptions extends BackendPoolOptions, ServerTimeouts {
  readonly backends: BackendSource
  /** Largest `size` accepted, in bytes (default 64 GiB); larger asks answer 413. */
  readonly maxSize?: number
  /** Passed to each backend exchange: time to connect and between two events (default 5 s). */
  readonly backendTimeoutMs?: number
}

export interface Gateway {
  readonly server: Server
  readonly pool: BackendPool
  readonly metrics: GatewayMetrics
}

/**
 * The HTTP gateway: `GET /health` (200 while at least one backend is healthy, 503 otherwise, with
 * the backends' state as JSON), `GET /metrics` (Prometheus text), a page at `/` that shows both
 * live and streams from the browser, and `POST /stream?size=N`, which generates N random bytes on
 * the fly, streams them to a healthy backend and answers 200 with the size and the SHA-256 the
 * backend acknowledged. The pool's health rounds start at once and stop when the server closes.
 */
export function createGateway(options: GatewayOptions): Gateway {
  const pool = new BackendPool(options.backends, options)
  const maxSize = options.maxSize ?? DEFAULT_MAX_SIZE
  const metrics = new GatewayMetrics(pool)
  const reports = reportRoute({}, () => metrics.render())
  const server = createHttpServer((req, res) => {
    observeRequest(req, res, metrics.requests)
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 500, { error: (error as Error).message })
      else res.destroy()
    })
  }, options)
  void pool.start()
  server.on('close', () => pool.stop())

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway')
    req.resume()
    if (url.pathname === '/health') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed(res, 'GET, HEAD')
      const status = pool.status()
      const up = status.backends.some((backend) => backend.healthy)
      return reply(res, up ? 200 : 503, { status: up ? 'ok' : 'no healthy backend', ...status })
    }
    if (reports(req, res)) return
    if (url.pathname === '/' || url.pathname === '/index.html') {
      return sendAsset(req, res, page, 'text/html')
    }
    if (url.pathname !== '/stream')
      return reply(res, 404, { error: `no such path ${url.pathname}` })
    if (req.method !== 'POST') return notAllowed(res, 'POST')
    const sizes = url.searchParams.getAll('size')
    if (sizes.length !== 1) return reply(res, 400, { error: 'size=N (bytes) is required once' })
    const text = sizes[0] ?? ''
    if (!/^\d+$/.test(text)) {
      return reply(res, 400, { error: `size must be a whole number of bytes, got "${text}"` })
    }
    const size = Number(text)
    if (size > maxSize) {
      return reply(res, 413, { error: `size ${text} is over the limit of ${maxSize} bytes` })
    }
    await streamToBackend(req, res, size)
  }

  async function streamToBackend(req: IncomingMessage, res: ServerResponse, size: number) {
    const abort = new AbortController()
    // The client left (or half-closed: nobody will read the answer): stop generating bytes.
    const stopWatching = whenClientLeaves(req, res, () =>
      abort.abort(new Error('client went away')),
    )
    const started = performance.now()
    try {
      for (const backend of pool.candidates()) {
        try {
          const result = await streamRandomBytes(backend, size, {
            signal: abort.signal,
            ...(options.backendTimeoutMs ? { timeoutMs: options.backendTimeoutMs } : {}),
          })
          const elapsedMs = Math.round(performance.now() - started)
          metrics.countStream('acked', result.size)
          return reply(res, 200, { ...result, backend: backend.address, elapsedMs })
        } catch (error) {
          if (abort.signal.aborted) {
            metrics.countStream('client_gone')
            return
          }
          if (error instanceof BackendError && !error.connected) {
            pool.markDown(backend, error.message)
            continue
          }
          metrics.countStream('backend_failed')
          return reply(res, 502, { error: (error as Error).message })
        }
      }
      metrics.countStream('no_backend')
      reply(res, 503, { error: 'no healthy backend', ...pool.status() })
    } finally {
      stopWatching()
    }
  }

  return { server, pool, metrics }
}

function notAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow)
  reply(res, 405, { error: `method not allowed; use ${allow}` })
}

function reply(res: ServerResponse, status: number, body: object): void {
  const text = `${JSON.stringify(body)}\n`
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  })
  res.end(res.req.method === 'HEAD' ? undefined : text)
}
