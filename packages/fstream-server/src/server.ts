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
  serveRepresentation,
} from '@sluice/internal/http'
import {
  type FstreamServerError,
  MethodNotAllowedError,
  ResourceNotFoundError,
  StorageError,
  UnauthorizedError,
} from './errors.js'
import { REALM } from './handshake.js'
import { FstreamMetrics } from './metrics.js'
import { Sessions } from './sessions.js'
import { FileStorage } from './storage/files.js'
import type { ResourceStorage } from './storage/index.js'

/** The WebSocket subprotocol of this server. */
export { PROTOCOL }

/** Options of {@link createFstreamServer}. */
export interface FstreamServerOptions extends ServerTimeouts, ReportPaths {
  /**
   * Directory holding the resources; a resource `/a/b` is the file `<root>/a/b`. Give `root` or
   * `storage`.
   */
  readonly root?: string
  /**
   * Where the resources live, instead of files below `root`: a {@link ResourceStorage}, such as
   * the NATS JetStream storage (`jetStreamStorage()`) that servers on several machines share. It
   * is set up (`init`) when the server is created and closed with it.
   */
  readonly storage?: ResourceStorage
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
  /** Where the resources live (to list them, for instance). */
  readonly storage: ResourceStorage
  /** Resolves once the storage is set up; rejects with the reason when it cannot be used. */
  readonly ready: Promise<void>
  /** Closes every WebSocket session (appenders' acknowledged data is stored). */
  close(): void
  /** Closes the storage (its connections), once the sessions are closed. */
  closeStorage(): Promise<void>
}

/** The server of {@link createFstreamServer}: a node:http server, with its storage's `ready`. */
export interface FstreamServer extends Server {
  /** Resolves once the storage is set up; rejects with the reason when it cannot be used. */
  readonly ready: Promise<void>
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

/** GET/HEAD of a resource's stored content; DELETE of a resource (with the append token). */
async function resourceRoute(
  options: FstreamServerOptions,
  storage: ResourceStorage,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = req.method ?? ''
  if (method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') {
    res.setHeader('Allow', 'GET, HEAD, DELETE')
    return refuse(res, new MethodNotAllowedError(method))
  }
  const deleting = method === 'DELETE'
  const token = deleting ? options.appendToken : options.followToken
  if (!carriesBearer(req, token, QUERY.token)) {
    return refuse(res, new UnauthorizedError(deleting ? 'delete' : 'read'))
  }
  const relative = relativePathOf(rawPathOf(req.url))
  if (relative === undefined) return refuse(res, new ResourceNotFoundError())
  if (deleting) {
    const deleted = await storage.delete(relative)
    if (deleted === true) res.writeHead(204).end()
    else refuse(res, deleted === false ? new ResourceNotFoundError() : deleted)
    return
  }
  const content = await storage.representation(relative)
  if ('status' in content) return refuse(res, content)
  await serveRepresentation(req, res, content)
}

/** The storage the options ask for: theirs, or files below `root`. */
function storageOf(options: FstreamServerOptions): ResourceStorage {
  if (options.storage !== undefined) return options.storage
  if (options.root === undefined) throw new TypeError('fstream-server needs `root` or `storage`')
  return new FileStorage(options.root)
}

/**
 * The fstream.v1 handlers. APPEND (`X-Verb: APPEND` or `?verb=APPEND`) and FOLLOW are WebSocket
 * upgrades with the `fstream.v1` subprotocol (none: httpfstream's legacy framing); plain GET/HEAD
 * answers the stored content, DELETE (with the append token) deletes a resource; `GET /health` and `GET /metrics` (Prometheus text) report on the
 * server. Symbolic links below the root are never followed.
 */
export function createHandlers(options: FstreamServerOptions): FstreamHandlers {
  const log = options.log ?? ((message) => process.stderr.write(`fstream-server: ${message}\n`))
  const storage = storageOf(options)
  const ready = storage.init()
  ready.catch(() => {})
  const metrics: FstreamMetrics = new FstreamMetrics((): number => storage.appendingCount)
  const observe = observers(metrics.requests, options.observe) ?? metrics.requests
  const reports = reportRoute(options, () => metrics.render())
  const sessions = new Sessions({
    storage,
    ready,
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
      ready
        .then(() => resourceRoute(options, storage, req, res))
        .catch((error: Error) => {
          log(`${req.method} ${req.url} failed: ${error.message}`)
          refuse(res, new StorageError(`cannot read the resource: ${error.message}`))
        })
    },
    handleUpgrade: sessions.handleUpgrade,
    metrics,
    storage,
    ready,
    close: () => sessions.close(),
    closeStorage: () => storage.close(),
  }
}

/**
 * Creates (does not start) an HTTP server for the resources under `options.root` (or in
 * `options.storage`); `server.ready` resolves once the storage is set up. Request headers must
 * arrive within `headersTimeout` (default 30 s, else `408`). The storage is closed with the server.
 * @throws when `accessLog` names a file that cannot be opened, or neither `root` nor `storage` is given
 */
export function createFstreamServer(options: FstreamServerOptions): FstreamServer {
  const log = options.accessLog === undefined ? undefined : accessLog(options.accessLog)
  const { observe, ...timeouts } = options
  const watching = observers(observe, log)
  let handlers: FstreamHandlers
  try {
    // The handlers observe requests and sessions alike; the HTTP server must not count them again.
    handlers = createHandlers({ ...timeouts, ...(watching ? { observe: watching } : {}) })
  } catch (error) {
    log?.close()
    throw error
  }
  const server = createHttpServer(handlers.handleRequest, timeouts)
  server.on('close', () => {
    log?.close()
    handlers.closeStorage().catch(() => {})
  })
  server.on('upgrade', handlers.handleUpgrade)
  closeSessionsOnClose(server, handlers.close)
  return Object.assign(server, { ready: handlers.ready })
}

/** A plain request listener: GET/HEAD of stored resources only (no upgrades). */
export function createRequestHandler(
  options: FstreamServerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  return createHandlers(options).handleRequest
}
