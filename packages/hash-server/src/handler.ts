import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  bearerChallenge,
  carriesBearer,
  METRICS_CONTENT_TYPE,
  observeRequest,
  serveRepresentation,
} from '@sluice/internal/http'
import { supportedAlgorithms } from './algorithms.js'
import { formatDigestField } from './digest-fields.js'
import { ClientAbortedError, HashServerError, UnauthorizedError } from './errors.js'
import { Exchange } from './exchange.js'
import { type BodyHashingOptions, createBodyHashing, hashBody } from './hash-body.js'
import { HashMetrics } from './metrics.js'
import { DiskStore } from './store/disk.js'
import type { ObjectStore } from './store/index.js'
import { createTusService, type TusOptions } from './tus/tus-service.js'

/** Options of {@link createHashHandler} and {@link createHashServer}. */
export interface HashHandlerOptions extends BodyHashingOptions {
  /**
   * Where verified bodies (or each multipart part) are kept, as `<first algorithm>/<hex>`, and
   * served by `GET`: a directory (a {@link DiskStore}), or any {@link ObjectStore} such as an
   * {@link S3Store}. Each object is stored once complete and verified.
   */
  readonly store?: string | ObjectStore
  /** Path of the health check, `200 ok` (default `/health`). */
  readonly healthPath?: string
  /** Path of the Prometheus metrics (default `/metrics`). */
  readonly metricsPath?: string
  /** Called with unexpected errors (answered 500); default writes them to stderr. */
  readonly onError?: (error: unknown) => void
  /**
   * Serves resumable uploads (tus 1.0) under `tus.path`, kept in `tus.directory` until complete,
   * then checked and stored like any other body (default: off).
   */
  readonly tus?: TusOptions
  /**
   * Bearer token (`Authorization: Bearer <token>`) required for tus requests and for POST/PUT
   * when there is a store (default: none; hashing without storing is always open).
   */
  readonly token?: string
}

/** A node:http request listener, with the counters it keeps. */
export interface HashHandler {
  (req: IncomingMessage, res: ServerResponse): void
  readonly metrics: HashMetrics
  /**
   * Resolves once the store (if any) is ready; rejects, with Node's error code, when it cannot be
   * used (not a directory, not writable). Requests wait for it; a CLI checks it before listening.
   */
  readonly ready: Promise<void>
  /** Uploads in progress on the tus endpoint (0 without one). */
  readonly tusUploads: number
  /**
   * Marks a request whose client waits for `100 Continue` (`Expect: 100-continue`): the handler
   * sends it only once the request's headers are accepted, so a 413 or 400 costs no upload. Call
   * it from the server's `checkContinue` event, then call the handler.
   */
  expectsContinue(req: IncomingMessage): void
  /**
   * Stops the hashing threads (bodies still being hashed fail) and the tus expiry timer. A store
   * passed in stays open.
   */
  close(): Promise<void>
}

const STORE_PATH = /^\/([a-z0-9-]+)\/([0-9a-f]+)$/
const USAGE =
  'POST or PUT a body to get its digest: curl --data-binary @FILE URL[?algorithm=md5,sha256]\n'

/**
 * Whether a request failed because its client went away before its body was complete: the
 * connection is gone, or is going (reset, or ended mid-body, which the parser reports as
 * HPE_INVALID_EOF_STATE before the request is destroyed).
 */
function clientLeft(req: IncomingMessage, error: unknown): boolean {
  if (req.complete) return false
  const code = (error as NodeJS.ErrnoException).code
  return req.destroyed || code === 'ECONNRESET' || code === 'HPE_INVALID_EOF_STATE'
}

/** Hex digest length per algorithm: a name of any other length cannot be in the store. */
const hexLengths = new Map<string, number>()
function hexLength(algorithm: string): number {
  let length = hexLengths.get(algorithm)
  if (length === undefined) {
    length = createHash(algorithm).digest().length * 2
    hexLengths.set(algorithm, length)
  }
  return length
}

/** `GET /<algorithm>/<hex>` of the content-addressed store. */
async function serveStored(exchange: Exchange, store: ObjectStore, match: RegExpExecArray) {
  const [, algorithm = '', hex = ''] = match
  if (supportedAlgorithms().includes(algorithm) && hex.length === hexLength(algorithm)) {
    const { res, fields } = exchange
    const opened = await store.open(algorithm, hex)
    if (opened === 'symlink') {
      return exchange.send(403, 'the stored object is a symbolic link; links are never followed\n')
    }
    if (opened !== 'missing') {
      if (fields?.wantRepr.includes(algorithm)) {
        const digest = new Map([[algorithm, Buffer.from(hex, 'hex')]])
        res.setHeader('Repr-Digest', formatDigestField([algorithm], digest))
      }
      return serveRepresentation(exchange.req, res, opened)
    }
  }
  exchange.send(404, 'no such object\n')
}

function onErrorOf(options: HashHandlerOptions): (error: unknown) => void {
  return (
    options.onError ??
    ((error: unknown) => {
      console.error('hash-server: unexpected error:', error)
    })
  )
}

/**
 * Creates a `(req, res)` listener that answers digests of request bodies as they stream
 * (POST/PUT on any path), `GET /health`, `GET /metrics` and, with a store, `GET /<alg>/<hex>`.
 * Mount it in any node:http server; {@link createHashServer} adds the timeouts and
 * `100-continue` handling. This function routes; bodies are hashed by `hash-body.ts` and
 * answered through an {@link Exchange}.
 *
 * @throws {UnsupportedAlgorithmError} when `options.algorithms` names an unknown hash.
 */
export function createHashHandler(options: HashHandlerOptions = {}): HashHandler {
  const store = typeof options.store === 'string' ? new DiskStore(options.store) : options.store
  const storeReady = store?.init() ?? Promise.resolve()
  storeReady.catch(() => {})
  const metrics = new HashMetrics()
  const hashing = createBodyHashing(options, store, storeReady, metrics)
  const onError = onErrorOf(options)
  const tus = options.tus && createTusService(options.tus, hashing, onError)
  const ready = tus ? Promise.all([storeReady, tus.ready]).then(() => {}) : storeReady
  ready.catch(() => {})
  const { token } = options
  const healthPath = options.healthPath ?? '/health'
  const metricsPath = options.metricsPath ?? '/metrics'
  const awaitingContinue = new WeakSet<IncomingMessage>()

  async function handle(exchange: Exchange): Promise<void> {
    const { req, res, url } = exchange
    const method = req.method ?? 'GET'
    const authorize = () => {
      if (carriesBearer(req, token)) return
      res.setHeader('WWW-Authenticate', bearerChallenge('hash-server'))
      throw new UnauthorizedError()
    }
    if (tus?.matches(url.pathname)) return tus.handle(exchange, authorize)
    if (method === 'POST' || method === 'PUT') {
      if (store) authorize()
      return hashBody(exchange, hashing)
    }
    if (method === 'GET' || method === 'HEAD') {
      if (url.pathname === healthPath) return exchange.send(200, 'ok\n')
      if (url.pathname === metricsPath) {
        return exchange.send(200, await metrics.renderAll(), METRICS_CONTENT_TYPE)
      }
      const match = STORE_PATH.exec(url.pathname)
      if (store && match) {
        await storeReady
        return serveStored(exchange, store, match)
      }
    }
    res.setHeader('Allow', store ? 'GET, HEAD, POST, PUT' : 'POST, PUT')
    exchange.send(405, USAGE)
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    observeRequest(req, res, metrics.requests)
    const exchange = new Exchange(req, res)
    exchange.awaitingContinue = awaitingContinue.has(req)
    handle(exchange).catch((error: unknown) => {
      const failure =
        error instanceof HashServerError
          ? error
          : clientLeft(req, error)
            ? new ClientAbortedError({ cause: error })
            : undefined
      if (failure === undefined) {
        metrics.countError('HASH_ERR_INTERNAL')
        onError(error)
        exchange.sendError(new HashServerError('internal server error', 'HASH_ERR_INTERNAL', 500))
        return
      }
      metrics.countError(failure.code)
      if (failure instanceof ClientAbortedError) res.destroy()
      else exchange.sendError(failure)
    })
  }
  return Object.assign(handler, {
    metrics,
    ready,
    get tusUploads() {
      return tus?.inProgress ?? 0
    },
    expectsContinue: (req: IncomingMessage) => {
      awaitingContinue.add(req)
    },
    close: () => {
      tus?.close()
      return hashing.close()
    },
  })
}
