import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { availableParallelism } from 'node:os'
import { pipeline } from 'node:stream/promises'
import { requestBody, unsupportedTransferCoding } from '@sluice/internal/http'
import { parseAlgorithms, supportedAlgorithms } from './algorithms.js'
import { formatDigestField, parseDigestFields, verifyDigests } from './digest-fields.js'
import { DigestMeter, DigestSink, hexDigests } from './digest-sink.js'
import {
  BodyTooLargeError,
  ClientAbortedError,
  HashServerError,
  InvalidHeaderError,
  UnsupportedTransferCodingError,
} from './errors.js'
import { type DigestEngine, HashThreadPool, InlineEngine } from './hash-threads.js'
import { HashMetrics } from './metrics.js'
import {
  digestMultipart,
  type MultipartLimits,
  multipartBoundary,
  type ParsedPart,
  type PartDigests,
} from './multipart.js'
import { ContentStore, type PendingObject } from './store.js'

/** Options of {@link createHashHandler} and {@link createHashServer}. */
export interface HashHandlerOptions {
  /**
   * Algorithms used when a request has no `?algorithm=`: an array or a comma-separated list
   * (default `md5`, as the seed server). The first one is the plain-text answer.
   */
  readonly algorithms?: string | readonly string[]
  /**
   * Directory of the content-addressed store. Bodies (or each multipart part) are kept at
   * `<store>/<first algorithm>/<hex>` once complete and verified, and served by `GET`.
   */
  readonly store?: string
  /** Largest accepted body in bytes (default: no limit). Larger bodies get 413. */
  readonly maxBodySize?: number
  /** Multipart limits: `maxParts` (default 1000), `maxPartHeaderSize` (default 16384 bytes). */
  readonly multipart?: Partial<MultipartLimits>
  /**
   * Threads that hash bodies of 1 MiB or more (or of unknown length), so that reading the socket
   * and hashing use two cores (default: one per core; 0 hashes on the request's thread).
   */
  readonly hashThreads?: number
  /** Called with unexpected errors (answered 500); default writes them to stderr. */
  readonly onError?: (error: unknown) => void
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
  /**
   * Marks a request whose client waits for `100 Continue` (`Expect: 100-continue`): the handler
   * sends it only once the request's headers are accepted, so a 413 or 400 costs no upload. Call
   * it from the server's `checkContinue` event, then call the handler.
   */
  expectsContinue(req: IncomingMessage): void
  /** Stops the hashing threads (bodies still being hashed fail). */
  close(): Promise<void>
}

/** Bodies at least this large (or of unknown length) are hashed on a pool thread. */
const THREAD_THRESHOLD = 1024 * 1024

const STORE_PATH = /^\/([a-z0-9-]+)\/([0-9a-f]+)$/
const USAGE =
  'POST or PUT a body to get its digest: curl --data-binary @FILE URL[?algorithm=md5,sha256]\n'

function wantsJson(req: IncomingMessage): boolean {
  return /\bapplication\/json\b(?!\s*;\s*q=0(?:\.0*)?\s*(?:,|$))/i.test(req.headers.accept ?? '')
}

function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length']
  if (header === undefined) return undefined
  if (!/^\d+$/.test(header)) throw new InvalidHeaderError('malformed Content-Length header')
  return Number(header)
}

/** Sends `content`, with Content-Digest/Repr-Digest of that content when the client wants them. */
function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  content: string,
  contentType: string,
): void {
  const body = Buffer.from(content)
  res.statusCode = status
  res.setHeader('Content-Type', contentType)
  res.setHeader('Content-Length', body.length)
  const fields = (() => {
    try {
      return parseDigestFields(req.headers)
    } catch {
      return undefined
    }
  })()
  // RFC 9530: these describe this response's own content (no Content-Encoding, so both are equal).
  const wanted = [...new Set([...(fields?.wantContent ?? []), ...(fields?.wantRepr ?? [])])]
  if (wanted.length > 0) {
    const computed = new Map(wanted.map((a) => [a, createHash(a).update(body).digest()]))
    if (fields?.wantContent.length) {
      res.setHeader('Content-Digest', formatDigestField(fields.wantContent, computed))
    }
    if (fields?.wantRepr.length) {
      res.setHeader('Repr-Digest', formatDigestField(fields.wantRepr, computed))
    }
  }
  res.end(req.method === 'HEAD' ? undefined : body)
}

/** How long the rest of a refused body is read (and dropped) so the client sees the answer. */
const DRAIN_MS = 2_000

function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  error: HashServerError,
  bodyWithheld: boolean,
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy(error)
    return
  }
  if (bodyWithheld) {
    // The client waits for 100 Continue and will not send the body: no reason to keep the line.
    res.setHeader('Connection', 'close')
  } else if (!req.complete) {
    // Closing now would reset a client still writing, before it reads this answer (EPIPE); read
    // and drop the rest for a while instead, then give up on the connection.
    req.resume()
    const timer = setTimeout(() => req.socket.destroy(), DRAIN_MS)
    timer.unref()
    req.once('end', () => clearTimeout(timer))
    req.once('close', () => clearTimeout(timer))
  }
  if (wantsJson(req)) {
    const payload = { error: { code: error.code, message: error.message } }
    send(req, res, error.status, `${JSON.stringify(payload)}\n`, 'application/json')
  } else {
    send(req, res, error.status, `${error.message}\n`, 'text/plain; charset=utf-8')
  }
}

/**
 * Creates a `(req, res)` listener that answers digests of request bodies as they stream
 * (POST/PUT on any path), `GET /health`, `GET /metrics` and, with a store, `GET /<alg>/<hex>`.
 * Mount it in any node:http server; {@link createHashServer} adds the timeouts and
 * `100-continue` handling.
 *
 * @throws {UnsupportedAlgorithmError} when `options.algorithms` names an unknown hash.
 */
export function createHashHandler(options: HashHandlerOptions = {}): HashHandler {
  const defaults = parseAlgorithms(
    typeof options.algorithms === 'string'
      ? options.algorithms
      : (options.algorithms ?? ['md5']).join(','),
  )
  const maxBodySize = options.maxBodySize ?? Number.POSITIVE_INFINITY
  const limits: MultipartLimits = {
    maxParts: options.multipart?.maxParts ?? 1000,
    maxPartHeaderSize: options.multipart?.maxPartHeaderSize ?? 16 * 1024,
  }
  const store = options.store === undefined ? undefined : new ContentStore(options.store)
  const storeReady = store?.init() ?? Promise.resolve()
  storeReady.catch(() => {})
  const threads = options.hashThreads ?? availableParallelism()
  const pool = threads > 0 ? new HashThreadPool(threads) : undefined
  const engineFor =
    (length: number | undefined) =>
    (algorithms: readonly string[]): DigestEngine =>
      pool && algorithms.length > 0 && (length === undefined || length >= THREAD_THRESHOLD)
        ? pool.engine(algorithms)
        : new InlineEngine(algorithms)
  const metrics = new HashMetrics()
  const awaitingContinue = new WeakSet<IncomingMessage>()
  const continued = new WeakSet<IncomingMessage>()
  const continueWithheld = (req: IncomingMessage) =>
    awaitingContinue.has(req) && !continued.has(req)
  const onError =
    options.onError ??
    ((error: unknown) => {
      console.error('hash-server: unexpected error:', error)
    })

  async function hashBody(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const requested = url.searchParams.getAll('algorithm')
    const algorithms = requested.length > 0 ? parseAlgorithms(requested.join(',')) : defaults
    const codings = unsupportedTransferCoding(req)
    if (codings !== undefined) throw new UnsupportedTransferCodingError(codings)
    const length = declaredLength(req)
    if (length !== undefined && length > maxBodySize) throw new BodyTooLargeError(maxBodySize)
    const fields = parseDigestFields(req.headers)
    const expectedAlgorithms = [...new Set(fields.expected.map((d) => d.algorithm))]
    const engine = engineFor(length)
    const contentType = req.headers['content-type'] ?? ''
    const boundary = /^\s*multipart\/form-data\b/i.test(contentType)
      ? multipartBoundary(contentType)
      : undefined
    await storeReady
    if (awaitingContinue.has(req)) {
      continued.add(req)
      res.writeContinue()
    }

    if (boundary !== undefined) {
      // The whole body is hashed only to check a digest the client sent; parts get `algorithms`.
      const meter = new DigestMeter(engine(expectedAlgorithms), maxBodySize)
      const parsed = await digestMultipart(req, {
        boundary,
        meter,
        engine,
        algorithms,
        limits,
        store,
      })
      metrics.bytesHashed += meter.size
      try {
        verifyDigests(fields.expected, meter.digests())
        const parts = await commitParts(parsed, algorithms)
        sendDigests(req, res, { size: meter.size, parts }, () =>
          parts.map((p) => `${p.digests[algorithms[0] ?? '']}  ${p.filename ?? p.name}\n`).join(''),
        )
      } finally {
        for (const { pending } of parsed) await pending?.discard()
      }
      return
    }

    const pending: PendingObject | undefined = await store?.begin()
    try {
      const sink = new DigestSink({
        engine: engine([...new Set([...algorithms, ...expectedAlgorithms])]),
        maxBytes: maxBodySize,
        ...(pending ? { file: pending.file } : {}),
      })
      await pipeline(requestBody(req), sink)
      metrics.bytesHashed += sink.size
      const computed = sink.digests()
      verifyDigests(fields.expected, computed)
      const digests = hexDigests(algorithms, computed)
      const first = algorithms[0] ?? ''
      const location = pending ? await pending.commit(first, digests[first] ?? '') : undefined
      if (location) res.setHeader('Location', location)
      sendDigests(
        req,
        res,
        { size: sink.size, digests, ...(location ? { location } : {}) },
        () => `${digests[first]}\n`,
      )
    } finally {
      await pending?.discard()
    }
  }

  /** 201 when stored, else 200; JSON when the client accepts it, else the md5sum-style text. */
  function sendDigests(
    req: IncomingMessage,
    res: ServerResponse,
    answer: object,
    text: () => string,
  ): void {
    const status = store ? 201 : 200
    if (wantsJson(req)) send(req, res, status, `${JSON.stringify(answer)}\n`, 'application/json')
    else send(req, res, status, text(), 'text/plain; charset=utf-8')
  }

  async function commitParts(parsed: readonly ParsedPart[], algorithms: readonly string[]) {
    const first = algorithms[0] ?? ''
    const parts: PartDigests[] = []
    for (const { part, pending } of parsed) {
      const location = pending ? await pending.commit(first, part.digests[first] ?? '') : undefined
      parts.push(location ? { ...part, location } : part)
    }
    return parts
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const method = req.method ?? 'GET'
    if (method === 'POST' || method === 'PUT') return hashBody(req, res, url)
    if (method === 'GET' || method === 'HEAD') {
      if (url.pathname === '/health')
        return send(req, res, 200, 'ok\n', 'text/plain; charset=utf-8')
      if (url.pathname === '/metrics') {
        return send(req, res, 200, metrics.render(), 'text/plain; version=0.0.4; charset=utf-8')
      }
      const match = STORE_PATH.exec(url.pathname)
      if (store && match) {
        const [, algorithm = '', hex = ''] = match
        await storeReady
        if (supportedAlgorithms().includes(algorithm)) {
          const wantRepr = parseDigestFields(req.headers).wantRepr
          if (wantRepr.includes(algorithm)) {
            res.setHeader(
              'Repr-Digest',
              formatDigestField([algorithm], new Map([[algorithm, Buffer.from(hex, 'hex')]])),
            )
          }
          const unservable = await store.serve(req, res, algorithm, hex)
          if (unservable === undefined) return
          res.removeHeader('Repr-Digest')
          if (unservable === 'symlink') {
            const text = 'the stored object is a symbolic link; links are never followed\n'
            return send(req, res, 403, text, 'text/plain; charset=utf-8')
          }
        }
        return send(req, res, 404, 'no such object\n', 'text/plain; charset=utf-8')
      }
    }
    res.setHeader('Allow', store ? 'GET, HEAD, POST, PUT' : 'POST, PUT')
    send(req, res, 405, USAGE, 'text/plain; charset=utf-8')
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    metrics.inFlight++
    res.once('close', () => {
      metrics.inFlight--
      if (res.writableFinished) metrics.countResponse(res.statusCode)
    })
    handle(req, res).catch((error: unknown) => {
      const failure =
        error instanceof HashServerError
          ? error
          : req.destroyed && !req.complete
            ? new ClientAbortedError({ cause: error })
            : undefined
      if (failure === undefined) {
        metrics.countError('HASH_ERR_INTERNAL')
        onError(error)
        sendError(
          req,
          res,
          new HashServerError('internal server error', 'HASH_ERR_INTERNAL', 500),
          continueWithheld(req),
        )
        return
      }
      metrics.countError(failure.code)
      if (failure instanceof ClientAbortedError) res.destroy()
      else sendError(req, res, failure, continueWithheld(req))
    })
  }
  return Object.assign(handler, {
    metrics,
    ready: storeReady,
    expectsContinue: (req: IncomingMessage) => {
      awaitingContinue.add(req)
    },
    close: async () => {
      await pool?.close()
    },
  })
}
