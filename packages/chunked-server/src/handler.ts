import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createSecureServer, type Http2SecureServer } from 'node:http2'
import { rawPathOf } from '@sluice/internal/fs'
import {
  accessLog,
  bearerChallenge,
  carriesBearer,
  closeSessionsOnClose,
  hardenServer,
  observeRequest,
  type ReportPaths,
  reportRoute,
  type ServerTimeouts,
} from '@sluice/internal/http'
import { answer, refuse } from './answer.js'
import { applyCors, type CorsOptions } from './cors.js'
import {
  InvalidKeyError,
  MethodNotAllowedError,
  ObjectNotFoundError,
  UnauthorizedError,
} from './errors.js'
import { ingestRoute } from './ingest-route.js'
import { ChunkedMetrics } from './metrics.js'
import { objectKey } from './object-key.js'
import { Origin } from './origin.js'
import { readRoute } from './read-route.js'

const ALLOWED = 'GET, HEAD, PUT, POST, DELETE, OPTIONS'
const REALM = 'chunked-server'
/** Query parameter carrying a token, for clients that cannot set headers. */
const TOKEN_QUERY = 'token'

/** Options of {@link createChunkedHandler} and {@link createChunkedServer}. */
export interface ChunkedServerOptions extends ServerTimeouts, ReportPaths {
  /** Directory of the objects (`-p`, default `./content` in the CLI). */
  readonly root: string
  /**
   * Keep objects in memory only (`-r`), within this many bytes; an upload that does not
   * fit gets 507. Nothing is written under `root` and nothing survives a restart.
   */
  readonly memoryBudget?: number
  /**
   * How long a GET for a key that does not exist yet waits for its upload to start, in ms
   * (default 0: answer 404 at once). A request may ask for its own wait with `Expires: in=N`
   * (N seconds, at most 60). Answers after a wait carry `Waited-For-Data-Ms`.
   */
  readonly waitMs?: number
  /** CORS policy (`-o` file); without it, no CORS headers are sent. */
  readonly cors?: CorsOptions
  /** Delete finished objects when the `max-age` of their upload's Cache-Control runs out (`-d`). */
  readonly expire?: boolean
  /** Largest object in bytes (default: no limit); a larger upload gets 413 and is not stored. */
  readonly maxObjectSize?: number
  /** An upload that sends nothing for this many ms is aborted (default 30 000; 0 = never). */
  readonly ingestIdleTimeout?: number
  /**
   * PEM certificate and key (`-c`/`-k`): the server speaks HTTPS, HTTP/2 (what Apple's
   * LL-HLS asks for) and HTTP/1.1 on the same port, chosen by ALPN.
   */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer }
  /**
   * Bearer token required to PUT, POST and DELETE (`Authorization: Bearer T`, or `?token=T`);
   * without it, writes are open. A request without it gets `401` with `WWW-Authenticate`.
   */
  readonly writeToken?: string
  /** Bearer token required to GET and HEAD objects (default: reads are open). */
  readonly readToken?: string
  /**
   * {@link createChunkedServer} only: one JSON line per request (time, method, path without its
   * query, status, bytes in and out, duration, remote address) appended to this file, or written to
   * standard output with `-` (default: none).
   */
  readonly accessLog?: string
}

/** A node:http request listener, with `ready` (the store is set up) and `close()`. */
export interface ChunkedHandler {
  (req: IncomingMessage, res: ServerResponse): void
  /** The origin's counters, as served at the metrics path. */
  readonly metrics: ChunkedMetrics
  /** Resolves once the store's directories exist and leftovers of a crash are cleared. */
  readonly ready: Promise<void>
  /** Answers every held blocking playlist reload with `503`: the server is shutting down. */
  releaseHeld(): void
  /** Aborts every upload in progress (their readers end abnormally). */
  close(): void
}

/**
 * The live origin: PUT/POST ingests an object (chunked or sized) to the file that is its buffer;
 * a GET while it arrives gets everything so far and then each chunk as it lands; a finished
 * object is served as a static file (Content-Length, ETag, Range, conditional requests, HEAD)
 * with the upload's content headers; DELETE removes it (and stops an upload in progress);
 * `GET /health` and `GET /metrics` (Prometheus text) report on the origin. This function only
 * routes: the state lives in {@link Origin}, each method in its route module.
 */
export function createChunkedHandler(options: ChunkedServerOptions): ChunkedHandler {
  const origin = new Origin(options)
  const metrics = new ChunkedMetrics(() => origin.uploadCount)
  const ingestOptions = {
    maxObjectSize: options.maxObjectSize ?? Number.POSITIVE_INFINITY,
    ingestIdleTimeout: options.ingestIdleTimeout ?? 30_000,
    metrics,
  }
  const readOptions = { waitMs: options.waitMs ?? 0, metrics }
  const reports = reportRoute(options, () => metrics.render())

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await origin.ready
    if (options.cors && applyCors(req, res, options.cors)) return
    const method = req.method ?? 'GET'
    if (method === 'OPTIONS') {
      res.writeHead(204, { Allow: ALLOWED }).end()
      return
    }
    if (reports(req, res)) return
    const reading = method === 'GET' || method === 'HEAD'
    const token = reading ? options.readToken : options.writeToken
    if (!carriesBearer(req, token, TOKEN_QUERY)) {
      res.setHeader('WWW-Authenticate', bearerChallenge(REALM))
      return refuse(res, new UnauthorizedError(reading ? 'read' : 'write'))
    }
    const key = objectKey(req.url)
    if (key === undefined) {
      const status = method === 'PUT' || method === 'POST' ? 400 : 404
      return refuse(res, new InvalidKeyError(rawPathOf(req.url), status))
    }
    switch (method) {
      case 'PUT':
      case 'POST':
        return ingestRoute(origin, ingestOptions, req, res, key)
      case 'GET':
      case 'HEAD':
        return readRoute(origin, readOptions, req, res, key)
      case 'DELETE':
        if (await origin.delete(key)) res.writeHead(204).end()
        else refuse(res, new ObjectNotFoundError(key))
        return
      default:
        res.setHeader('Allow', ALLOWED)
        return refuse(res, new MethodNotAllowedError(method))
    }
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    observeRequest(req, res, metrics.requests)
    handle(req, res).catch((error: Error) => answer(res, 500, `internal error: ${error.message}`))
  }
  return Object.assign(handler, {
    metrics,
    ready: origin.ready,
    releaseHeld: () => origin.releaseHeld(),
    close: () => origin.close(),
  })
}

/** The origin's server: node:http, or node:http2 (with HTTP/1.1 fallback) when `tls` is set. */
export type ChunkedServer = (Server | Http2SecureServer) & { readonly handler: ChunkedHandler }

/**
 * Creates (does not start) the origin's server. Request headers must arrive within
 * `headersTimeout` (default 30 s, else `408`); an upload has no overall time limit, only
 * `ingestIdleTimeout`; a client that half-closes after its upload (ffmpeg's HTTP PUT) gets its
 * answer; malformed requests get `400` with the parser's reason.
 * @throws when `accessLog` names a file that cannot be opened
 */
export function createChunkedServer(options: ChunkedServerOptions): ChunkedServer {
  // First: a log that cannot be opened throws before the storage is set up.
  const log = options.accessLog === undefined ? undefined : accessLog(options.accessLog)
  const handler = createChunkedHandler(options)
  const timeouts = { ...options, ...(log ? { observe: log } : {}) }
  let server: Server | Http2SecureServer
  if (options.tls) {
    // The compatibility API gives the handler request/response objects shaped like node:http's.
    const secure = createSecureServer({
      cert: options.tls.cert,
      key: options.tls.key,
      allowHTTP1: true,
    })
    const track = hardenServer(secure, timeouts)
    secure.on('request', track(handler) as unknown as (...args: unknown[]) => void)
    server = secure
  } else {
    const plain = createServer()
    plain.on('request', hardenServer(plain, timeouts)(handler))
    server = plain
  }
  // Held blocking reloads get their 503 as soon as the server stops accepting, not after it drains.
  closeSessionsOnClose(server, () => handler.releaseHeld())
  server.on('close', () => {
    handler.close()
    log?.close()
  })
  return Object.assign(server, { handler })
}
