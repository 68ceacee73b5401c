import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { rawPathOf, relativePathOf } from '@sluice/internal/fs'
import { PROTOCOL, QUERY } from '@sluice/internal/fstream'
import {
  accessLog,
  bearerChallenge,
  carriesBearer,
  closeSessionsOnClose,
  createHttpServer,
  observeRequest,
  observers,
  type ReportPaths,
  reportRoute,
  type ServerTimeouts,
  serveFile,
} from '@sluice/internal/http'
import {
  type FstreamServerError,
  MethodNotAllowedError,
  ResourceNotFoundError,
  StorageError,
  SymbolicLinkError,
  UnauthorizedError,
} from './errors.js'
import { REALM } from './handshake.js'
import { FstreamMetrics } from './metrics.js'
import { Sessions } from './sessions.js'

/** The WebSocket subprotocol of this server. */
export { PROTOCOL }

/** Options of {@link createFstreamServer}. */
export interface FstreamServerOptions extends ServerTimeouts, ReportPaths {
  /** Directory holding the resources; a resource `/a/b` is the file `<root>/a/b`. */
  readonly root: string
  /** Largest resource in bytes; an APPEND past it is closed with 1009 (default: no limit). */
  readonly maxResourceSize?: number
  /** Largest WebSocket message accepted, bytes (default 16 MiB); a larger one closes with 1009. */
  readonly maxPayload?: number
  /** Ping period; an appender that misses a pong is dropped (default 30 000 ms). */
  readonly heartbeatMs?: number
  /** Bearer token required to APPEND (`Authorization: Bearer T` or `?token=T`). */
  readonly appendToken?: string
  /** Bearer token required to FOLLOW and GET. */
  readonly followToken?: string
  /**
   * Where a session's protocol violation or storage failure is reported, one line each (default:
   * standard error). The session is closed with its code; the server goes on.
   */
  readonly log?: (message: string) => void
  /**
   * {@link createFstreamServer} only: one JSON line per request and per session, when it ends (time, method, path without its
   * query, status: 101 for a session, bytes in and out, duration, remote address), appended to
   * this file, or written to standard output with `-` (default: none).
   */
  readonly accessLog?: string
}

/** The request and upgrade listeners, to mount on any node:http server. */
export interface FstreamHandlers {
  handleRequest(req: IncomingMessage, res: ServerResponse): void
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void
  /** The server's counters, as served at the metrics path. */
  readonly metrics: FstreamMetrics
  /** Closes every WebSocket session (appenders' acknowledged data is on disk). */
  close(): void
}

function refuse(res: ServerResponse, error: FstreamServerError): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  if (error.status === 401) res.setHeader('WWW-Authenticate', bearerChallenge(REALM))
  res.writeHead(error.status, { 'Content-Type': 'text/plain; charset=utf-8' })
  res.end(`${error.message}\n`)
}

/** GET/HEAD of a resource's stored content. */
async function readResource(
  options: FstreamServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD')
    return refuse(res, new MethodNotAllowedError(req.method ?? ''))
  }
  if (!carriesBearer(req, options.followToken, QUERY.token))
    return refuse(res, new UnauthorizedError('read'))
  const relative = relativePathOf(rawPathOf(req.url))
  if (relative === undefined) return refuse(res, new ResourceNotFoundError())
  const unservable = await serveFile(req, res, options.root, relative)
  if (unservable === 'symlink') refuse(res, new SymbolicLinkError())
  else if (unservable !== undefined) refuse(res, new ResourceNotFoundError())
}

/**
 * The fstream.v1 handlers. APPEND (`X-Verb: APPEND` or `?verb=APPEND`) and FOLLOW are WebSocket
 * upgrades with the `fstream.v1` subprotocol (none: httpfstream's legacy framing); plain GET/HEAD
 * answers the stored content; `GET /health` and `GET /metrics` (Prometheus text) report on the
 * server. Symbolic links below the root are never followed.
 */
export function createHandlers(options: FstreamServerOptions): FstreamHandlers {
  const log = options.log ?? ((message) => process.stderr.write(`fstream-server: ${message}\n`))
  const metrics: FstreamMetrics = new FstreamMetrics((): number => sessions.appendingCount)
  const observe = observers(metrics.requests, options.observe) ?? metrics.requests
  const reports = reportRoute(options, () => metrics.render())
  const sessions = new Sessions({
    root: options.root,
    tokens: { append: options.appendToken, follow: options.followToken },
    maxPayload: options.maxPayload ?? 16 * 1024 * 1024,
    maxResourceSize: options.maxResourceSize ?? Number.POSITIVE_INFINITY,
    heartbeatMs: options.heartbeatMs ?? 30_000,
    log,
    metrics,
    observe,
  })
  return {
    handleRequest: (req, res) => {
      observeRequest(req, res, observe)
      if (reports(req, res)) return
      readResource(options, req, res).catch((error: Error) => {
        log(`GET ${req.url} failed: ${error.message}`)
        refuse(res, new StorageError('cannot read the resource'))
      })
    },
    handleUpgrade: sessions.handleUpgrade,
    metrics,
    close: () => sessions.close(),
  }
}

/**
 * Creates (does not start) an HTTP server for the resources under `options.root`. Request
 * headers must arrive within `headersTimeout` (default 30 s, else `408`).
 */
export function createFstreamServer(options: FstreamServerOptions): Server {
  const log = options.accessLog === undefined ? undefined : accessLog(options.accessLog)
  const { observe, ...timeouts } = options
  const watching = observers(observe, log)
  // The handlers observe requests and sessions alike; the HTTP server must not count them again.
  const handlers = createHandlers({ ...timeouts, ...(watching ? { observe: watching } : {}) })
  const server = createHttpServer(handlers.handleRequest, timeouts)
  server.on('close', () => log?.close())
  server.on('upgrade', handlers.handleUpgrade)
  closeSessionsOnClose(server, handlers.close)
  return server
}

/** A plain request listener: GET/HEAD of stored resources only (no upgrades). */
export function createRequestHandler(
  options: FstreamServerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  return createHandlers(options).handleRequest
}
