import type { IncomingMessage } from 'node:http'
import { availableParallelism } from 'node:os'
import { pipeline } from 'node:stream/promises'
import { requestBody, unsupportedTransferCoding } from '@sluice/internal/http'
import { parseAlgorithms } from './algorithms.js'
import { type DigestFields, verifyDigests } from './digest-fields.js'
import { DigestMeter, DigestSink, hexDigests } from './digest-sink.js'
import { BodyTooLargeError, InvalidHeaderError, UnsupportedTransferCodingError } from './errors.js'
import type { Exchange } from './exchange.js'
import { type DigestEngine, HashThreadPool, InlineEngine } from './hash-threads.js'
import type { HashMetrics } from './metrics.js'
import {
  digestMultipart,
  type MultipartLimits,
  multipartBoundary,
  type ParsedPart,
  type PartDigests,
} from './multipart.js'
import type { BodyHint, ObjectStore, PendingObject } from './store/index.js'

/** Bodies at least this large (or of unknown length) are hashed on a pool thread. */
const THREAD_THRESHOLD = 1024 * 1024

/** How bodies are hashed: the part of the handler's options that is about hashing. */
export interface BodyHashingOptions {
  /**
   * Algorithms used when a request has no `?algorithm=`: an array or a comma-separated list
   * (default `md5`). The first one is the plain-text answer.
   */
  readonly algorithms?: string | readonly string[]
  /** Largest accepted body in bytes (default: no limit). Larger bodies get 413. */
  readonly maxBodySize?: number
  /** Multipart limits: `maxParts` (default 1000), `maxPartHeaderSize` (default 16384 bytes). */
  readonly multipart?: Partial<MultipartLimits>
  /**
   * Threads that hash bodies of 1 MiB or more (or of unknown length), so that reading the socket
   * and hashing use two cores (default: one per core; 0 hashes on the request's thread). Only
   * algorithms slower than reading the socket (MD5, SHA-512 without hardware help) use them:
   * faster ones (SHA-256, SHA-1 with SHA-NI) cost less and are as fast on the request's thread.
   */
  readonly hashThreads?: number
}

/** What body hashing needs from the handler: its settings, engines, store and counters. */
export interface BodyHashing {
  /** Algorithms of a request without `?algorithm=`. */
  readonly defaults: readonly string[]
  readonly maxBodySize: number
  readonly limits: MultipartLimits
  readonly store: ObjectStore | undefined
  readonly storeReady: Promise<void>
  readonly metrics: HashMetrics
  /** Makes the engines for a body of this declared length (undefined: unknown). */
  engineFor(length: number | undefined): (algorithms: readonly string[]) => DigestEngine
}

/** Body hashing as a handler's options set it up: defaults, limits, and a thread pool. */
export function createBodyHashing(
  options: BodyHashingOptions,
  store: ObjectStore | undefined,
  storeReady: Promise<void>,
  metrics: HashMetrics,
): BodyHashing & { close(): Promise<void> } {
  const threads = options.hashThreads ?? availableParallelism()
  const pool = threads > 0 ? new HashThreadPool(threads) : undefined
  const algorithms = options.algorithms ?? ['md5']
  return {
    defaults: parseAlgorithms(typeof algorithms === 'string' ? algorithms : algorithms.join(',')),
    maxBodySize: options.maxBodySize ?? Number.POSITIVE_INFINITY,
    limits: {
      maxParts: options.multipart?.maxParts ?? 1000,
      maxPartHeaderSize: options.multipart?.maxPartHeaderSize ?? 16 * 1024,
    },
    store,
    storeReady,
    metrics,
    engineFor:
      (length) =>
      (names): DigestEngine =>
        pool &&
        !store?.paced &&
        names.length > 0 &&
        (length === undefined || length >= THREAD_THRESHOLD) &&
        pool.worthFor(names)
          ? pool.engine(names)
          : new InlineEngine(names),
    close: async () => {
      await pool?.close()
    },
  }
}

/** What one request asks to compute. */
interface Request {
  readonly algorithms: readonly string[]
  readonly fields: DigestFields
  readonly engine: (algorithms: readonly string[]) => DigestEngine
}

function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length']
  if (header === undefined) return undefined
  if (!/^\d+$/.test(header)) throw new InvalidHeaderError('malformed Content-Length header')
  return Number(header)
}

/**
 * POST/PUT: checks what can be checked before reading (algorithms, transfer coding, declared
 * size, digest fields), says `100 Continue` to a client waiting for it, then hashes the body as
 * it streams — a plain body whole, a multipart body part by part — and answers the digests
 * (`201` with a store, else `200`). Throws a HashServerError on any refusal.
 */
export async function hashBody(exchange: Exchange, hashing: BodyHashing): Promise<void> {
  const { req, url } = exchange
  const requested = url.searchParams.getAll('algorithm')
  const algorithms = requested.length > 0 ? parseAlgorithms(requested.join(',')) : hashing.defaults
  const codings = unsupportedTransferCoding(req)
  if (codings !== undefined) throw new UnsupportedTransferCodingError(codings)
  const length = declaredLength(req)
  if (length !== undefined && length > hashing.maxBodySize) {
    throw new BodyTooLargeError(hashing.maxBodySize)
  }
  if (exchange.fieldsError) throw exchange.fieldsError
  const fields = exchange.fields as DigestFields
  const contentType = req.headers['content-type'] ?? ''
  const boundary = /^\s*multipart\/form-data\b/i.test(contentType)
    ? multipartBoundary(contentType)
    : undefined
  await hashing.storeReady
  exchange.continue()
  const request = { algorithms, fields, engine: hashing.engineFor(length) }
  if (boundary === undefined) await hashWhole(exchange, hashing, request)
  else await hashParts(exchange, hashing, request, boundary)
}

/** What the store may know before the body: its length, and its key's digest if declared. */
function bodyHint(req: IncomingMessage, keyAlgorithm: string, fields: DigestFields): BodyHint {
  const size = declaredLength(req)
  const declared = fields.expected.find((digest) => digest.algorithm === keyAlgorithm)
  return {
    ...(size === undefined ? {} : { size }),
    ...(declared
      ? { declared: { algorithm: keyAlgorithm, hex: declared.value.toString('hex') } }
      : {}),
  }
}

async function hashWhole(exchange: Exchange, hashing: BodyHashing, request: Request) {
  const { algorithms, fields, engine } = request
  const expected = fields.expected.map((digest) => digest.algorithm)
  const pending: PendingObject | undefined = await hashing.store?.begin(
    bodyHint(exchange.req, algorithms[0] ?? '', fields),
  )
  try {
    const sink = new DigestSink({
      engine: engine([...new Set([...algorithms, ...expected])]),
      maxBytes: hashing.maxBodySize,
      ...(pending ? { object: pending } : {}),
    })
    await pipeline(requestBody(exchange.req), sink)
    hashing.metrics.countHashed(sink.size)
    const computed = sink.digests()
    verifyDigests(fields.expected, computed)
    const digests = hexDigests(algorithms, computed)
    const first = algorithms[0] ?? ''
    const location = pending ? await pending.commit(first, digests[first] ?? '') : undefined
    if (location) exchange.res.setHeader('Location', location)
    const answer = { size: sink.size, digests, ...(location ? { location } : {}) }
    exchange.sendDigests(hashing.store ? 201 : 200, answer, () => `${digests[first]}\n`)
  } finally {
    await pending?.discard()
  }
}

async function hashParts(
  exchange: Exchange,
  hashing: BodyHashing,
  request: Request,
  boundary: string,
) {
  const { algorithms, fields, engine } = request
  // The whole body is hashed only to check a digest the client sent; parts get `algorithms`.
  const expected = [...new Set(fields.expected.map((digest) => digest.algorithm))]
  const meter = new DigestMeter(engine(expected), hashing.maxBodySize)
  const parsed = await digestMultipart(exchange.req, {
    boundary,
    meter,
    engine,
    algorithms,
    limits: hashing.limits,
    store: hashing.store,
  })
  hashing.metrics.countHashed(meter.size)
  try {
    verifyDigests(fields.expected, meter.digests())
    const parts = await commitParts(parsed, algorithms)
    const first = algorithms[0] ?? ''
    exchange.sendDigests(hashing.store ? 201 : 200, { size: meter.size, parts }, () =>
      parts.map((part) => `${part.digests[first]}  ${part.filename ?? part.name}\n`).join(''),
    )
  } finally {
    for (const { pending } of parsed) await pending?.discard()
  }
}

async function commitParts(
  parsed: readonly ParsedPart[],
  algorithms: readonly string[],
): Promise<PartDigests[]> {
  const first = algorithms[0] ?? ''
  const parts: PartDigests[] = []
  for (const { part, pending } of parsed) {
    const location = pending ? await pending.commit(first, part.digests[first] ?? '') : undefined
    parts.push(location ? { ...part, location } : part)
  }
  return parts
}
