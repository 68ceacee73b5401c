import { EventEmitter } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createSecureServer, type Http2SecureServer } from 'node:http2'
import { Transform, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { rawPathOf } from '@sluice/internal/fs'
import {
  hardenServer,
  requestBody,
  type ServerTimeouts,
  serveRepresentation,
  unsupportedTransferCoding,
  whenClientLeaves,
} from '@sluice/internal/http'
import { applyCors, type CorsOptions } from './cors.js'
import { DiskStorage } from './disk-storage.js'
import { ObjectTooLargeError, UnsupportedTransferCodingError, uploadFailure } from './errors.js'
import { Ingest } from './ingest.js'
import { streamLive } from './live-reader.js'
import { MemoryStorage } from './memory-storage.js'
import { objectKey } from './object-key.js'
import type { PendingUpload, Storage } from './storage.js'

/** Options of {@link createChunkedHandler} and {@link createChunkedServer}. */
export interface ChunkedServerOptions extends ServerTimeouts {
  /** Directory of the objects (the seed's `-p`, default `./content` in the CLI). */
  readonly root: string
  /**
   * Keep objects in memory only (the seed's `-r`), within this many bytes; an upload that does not
   * fit gets 507. Nothing is written under `root` and nothing survives a restart.
   */
  readonly memoryBudget?: number
  /**
   * How long a GET for a key that does not exist yet waits for its upload to start, in ms
   * (default 0: answer 404 at once). A request may ask for its own wait with `Expires: in=N`
   * (N seconds, at most 60). Answers after a wait carry `Waited-For-Data-Ms`.
   */
  readonly waitMs?: number
  /** CORS policy (the seed's `-o` file); without it, no CORS headers are sent. */
  readonly cors?: CorsOptions
  /** Delete finished objects when the `max-age` of their upload's Cache-Control runs out (`-d`). */
  readonly expire?: boolean
  /** Largest object in bytes (default: no limit); a larger upload gets 413 and is not stored. */
  readonly maxObjectSize?: number
  /** An upload that sends nothing for this many ms is aborted (default 30 000; 0 = never). */
  readonly ingestIdleTimeout?: number
  /**
   * PEM certificate and key (the seed's `-c`/`-k`): the server speaks HTTPS, HTTP/2 (what Apple's
   * LL-HLS asks for) and HTTP/1.1 on the same port, chosen by ALPN.
   */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer }
}

/** A node:http request listener, with `ready` (the store is set up) and `close()`. */
export interface ChunkedHandler {
  (req: IncomingMessage, res: ServerResponse): void
  /** Resolves once the store's directories exist and leftovers of a crash are cleared. */
  readonly ready: Promise<void>
  /** Aborts every upload in progress (their readers end abnormally). */
  close(): void
}

/**
 * Content headers of an upload that are replayed to readers: representation metadata only.
 * Authorization, cookies and anything else the uploader sent stay private.
 */
const REPLAYED = [
  'content-type',
  'cache-control',
  'content-encoding',
  'content-language',
  'content-disposition',
] as const

function pickHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const name of REPLAYED) {
    const value = req.headers[name]
    if (typeof value === 'string') headers[name] = value
  }
  return headers
}

const MAX_REQUESTED_WAIT_MS = 60_000

/** `Expires: in=N` (seconds) on a GET: how long this request is willing to wait for the key. */
function requestedWaitMs(req: IncomingMessage): number | undefined {
  const match = /^\s*in=(\d+(?:\.\d+)?)\s*$/.exec(req.headers.expires ?? '')
  return match ? Math.min(Number(match[1]) * 1000, MAX_REQUESTED_WAIT_MS) : undefined
}

/** `max-age` of a Cache-Control value, in seconds. */
function maxAge(cacheControl: string | undefined): number | undefined {
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(cacheControl ?? '')
  return match ? Number(match[1]) : undefined
}

/** Passes bytes through until more than `max` have come, then fails with ObjectTooLargeError. */
function sizeLimit(max: number): Transform {
  let received = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length
      if (received > max) callback(new ObjectTooLargeError(max))
      else callback(null, chunk)
    },
  })
}

/** Stores an upload's chunks, then makes them readable live: storage first, readers after. */
function uploadSink(upload: PendingUpload, ingest: Ingest): Writable {
  return new Writable({
    highWaterMark: 64 * 1024,
    writev(entries, callback) {
      const chunks = entries.map((entry) => entry.chunk as Buffer)
      upload.write(chunks).then(() => {
        ingest.advance(chunks)
        callback()
      }, callback)
    },
  })
}

function answer(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${message}\n`)
}

/**
 * The live origin: PUT/POST ingests an object (chunked or sized) to the file that is its buffer;
 * a GET while it arrives gets everything so far and then each chunk as it lands; a finished
 * object is served as a static file (Content-Length, ETag, Range, If-None-Match, HEAD) with the
 * upload's content headers; DELETE removes it (and stops an upload in progress).
 */
export function createChunkedHandler(options: ChunkedServerOptions): ChunkedHandler {
  const store: Storage =
    options.memoryBudget === undefined
      ? new DiskStorage(options.root)
      : new MemoryStorage(options.memoryBudget)
  const ready = store.init()
  ready.catch(() => {})
  const live = new Map<string, { ingest: Ingest; req: IncomingMessage }>()
  // Emits a key when its upload starts: what waiting readers wait for (no polling).
  const arrivals = new EventEmitter().setMaxListeners(0)
  const expiries = new Map<string, NodeJS.Timeout>()
  const idleTimeout = options.ingestIdleTimeout ?? 30_000
  const maxSize = options.maxObjectSize ?? Number.POSITIVE_INFINITY

  function scheduleExpiry(key: string, expiresAt: number | undefined): void {
    clearTimeout(expiries.get(key))
    expiries.delete(key)
    if (expiresAt === undefined) return
    const timer = setTimeout(
      () => {
        expiries.delete(key)
        if (!live.has(key)) store.delete(key).catch(() => {})
      },
      Math.max(0, expiresAt - Date.now()),
    )
    timer.unref()
    expiries.set(key, timer)
  }

  /** Resolves 'arrived' when an upload of `key` starts, else 'timeout' or 'gone' (client left). */
  function waitForArrival(
    key: string,
    ms: number,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<'arrived' | 'timeout' | 'gone'> {
    return new Promise((resolve) => {
      const done = (outcome: 'arrived' | 'timeout' | 'gone') => {
        clearTimeout(timer)
        arrivals.off(key, onArrival)
        stopWatching()
        resolve(outcome)
      }
      const onArrival = () => done('arrived')
      const timer = setTimeout(() => done('timeout'), ms)
      arrivals.once(key, onArrival)
      const stopWatching = whenClientLeaves(req, res, () => done('gone'))
    })
  }

  async function ingestObject(
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
  ): Promise<void> {
    const codings = unsupportedTransferCoding(req)
    if (codings !== undefined) {
      return answer(res, 501, new UnsupportedTransferCodingError(codings).message)
    }
    if (live.has(key)) return answer(res, 409, `${key} is being uploaded by another request`)
    const prepared = await store.prepareKey(key)
    if (prepared === 'symlink') {
      return answer(res, 403, `${key} leads through a symbolic link; links are never followed`)
    }
    if (prepared === 'conflict') {
      return answer(res, 409, `${key} conflicts with an existing object or directory`)
    }
    if (live.has(key)) return answer(res, 409, `${key} is being uploaded by another request`)
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > maxSize)
      return answer(
        res,
        413,
        `upload of ${key} failed: ${new ObjectTooLargeError(maxSize).message}`,
      )
    const upload = await store.begin(key)
    const ingest = new Ingest(key, pickHeaders(req), upload)
    live.set(key, { ingest, req })
    arrivals.emit(key)
    if (idleTimeout > 0) req.setTimeout(idleTimeout, () => req.destroy(new Error('upload idle')))
    try {
      const body = requestBody(req)
      const sink = uploadSink(upload, ingest)
      if (Number.isFinite(maxSize)) await pipeline(body, sizeLimit(maxSize), sink)
      else await pipeline(body, sink)
      if (!req.complete) throw new Error('the upload was cut short')
      const etag = `"${ingest.written.toString(16)}-${Date.now().toString(16)}"`
      const age = options.expire ? maxAge(ingest.headers['cache-control']) : undefined
      const expiresAt = age === undefined ? undefined : Date.now() + age * 1000
      await upload.commit({
        size: ingest.written,
        headers: ingest.headers,
        etag,
        ...(expiresAt === undefined ? {} : { expiresAt }),
      })
      live.delete(key)
      scheduleExpiry(key, expiresAt)
      ingest.complete()
      answer(res, 201, `stored ${key} (${ingest.written} bytes)`)
    } catch (error) {
      const failure = uploadFailure(error, req.complete)
      live.delete(key)
      ingest.abort(failure)
      await upload.discard()
      if (!res.headersSent && !res.destroyed) {
        // HTTP/2 has no Connection header: a stream is reset on its own.
        if (!req.complete && req.httpVersionMajor === 1) res.setHeader('Connection', 'close')
        answer(res, failure.status, `upload of ${key} failed: ${failure.message}`)
      }
    }
  }

  async function readObject(
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    mayWait = true,
  ): Promise<void> {
    const current = live.get(key)
    if (current) {
      res.writeHead(200, { ...current.ingest.headers, 'Cache-Control': 'no-cache' })
      if (req.method === 'HEAD') {
        res.end()
        return
      }
      // Headers go out at once: a player learns the object is live before its first chunk lands.
      // (HTTP/2's compatibility response sends them in writeHead already.)
      if (typeof res.flushHeaders === 'function') res.flushHeaders()
      return streamLive(current.ingest, req, res)
    }
    let meta = await store.meta(key)
    if (meta?.expiresAt !== undefined && meta.expiresAt <= Date.now()) {
      await store.delete(key)
      meta = undefined
    }
    if (meta === undefined) {
      const waitMs = mayWait ? (requestedWaitMs(req) ?? options.waitMs ?? 0) : 0
      if (waitMs > 0) {
        const started = Date.now()
        const outcome = await waitForArrival(key, waitMs, req, res)
        if (outcome === 'gone') return
        res.setHeader('Waited-For-Data-Ms', String(Date.now() - started))
        if (outcome === 'arrived') return readObject(req, res, key, false)
      }
      return answer(res, 404, `no object at ${key}`)
    }
    const object = await store.open(key, meta)
    if (object === 'symlink') {
      return answer(res, 403, `${key} is a symbolic link; links are never followed`)
    }
    if (object === 'missing') return answer(res, 404, `no object at ${key}`)
    await serveRepresentation(req, res, object)
  }

  async function deleteObject(res: ServerResponse, key: string): Promise<void> {
    const current = live.get(key)
    if (current) {
      live.delete(key)
      current.ingest.abort(new Error(`${key} was deleted`))
      current.req.destroy()
      res.writeHead(204).end()
      return
    }
    scheduleExpiry(key, undefined)
    if (await store.delete(key)) res.writeHead(204).end()
    else answer(res, 404, `no object at ${key}`)
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await ready
    if (options.cors && applyCors(req, res, options.cors)) return
    const key = objectKey(req.url)
    const method = req.method ?? 'GET'
    if (method === 'OPTIONS') {
      res.writeHead(204, { Allow: 'GET, HEAD, PUT, POST, DELETE, OPTIONS' }).end()
      return
    }
    if (key === undefined) {
      const status = method === 'PUT' || method === 'POST' ? 400 : 404
      return answer(res, status, `not an object key: ${rawPathOf(req.url)}`)
    }
    switch (method) {
      case 'PUT':
      case 'POST':
        return ingestObject(req, res, key)
      case 'GET':
      case 'HEAD':
        return readObject(req, res, key)
      case 'DELETE':
        return deleteObject(res, key)
      default:
        res.setHeader('Allow', 'GET, HEAD, PUT, POST, DELETE')
        return answer(res, 405, `${method} is not supported`)
    }
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: Error) => answer(res, 500, `internal error: ${error.message}`))
  }
  return Object.assign(handler, {
    ready,
    close: () => {
      for (const timer of expiries.values()) clearTimeout(timer)
      expiries.clear()
      for (const { ingest, req } of live.values()) {
        ingest.abort(new Error('the server is closing'))
        req.destroy()
      }
      live.clear()
    },
  })
}

/** The origin's server: node:http, or node:http2 (with HTTP/1.1 fallback) when `tls` is set. */
export type ChunkedServer = (Server | Http2SecureServer) & { readonly handler: ChunkedHandler }

/**
 * Creates (does not start) the origin's server. Request headers must arrive within
 * `headersTimeout` (default 30 s, else `408`); an upload has no overall time limit, only
 * `ingestIdleTimeout`; a client that half-closes after its upload (ffmpeg's HTTP PUT) gets its
 * answer; malformed requests get `400` with the parser's reason.
 */
export function createChunkedServer(options: ChunkedServerOptions): ChunkedServer {
  const handler = createChunkedHandler(options)
  let server: Server | Http2SecureServer
  if (options.tls) {
    // The compatibility API gives the handler request/response objects shaped like node:http's.
    const secure = createSecureServer({
      cert: options.tls.cert,
      key: options.tls.key,
      allowHTTP1: true,
    })
    const track = hardenServer(secure, options)
    secure.on('request', track(handler) as unknown as (...args: unknown[]) => void)
    server = secure
  } else {
    const plain = createServer()
    plain.on('request', hardenServer(plain, options)(handler))
    server = plain
  }
  server.on('close', () => handler.close())
  return Object.assign(server, { handler })
}
