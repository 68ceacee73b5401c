import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { requestBody, serveFile } from '@sluice/internal-http'
import { Ingest } from './ingest.js'
import { streamLive } from './live-reader.js'
import { objectKey } from './object-key.js'
import { ObjectStore } from './store.js'

/** Options of {@link createChunkedHandler} and {@link createChunkedServer}. */
export interface ChunkedServerOptions {
  /** Directory of the objects (the seed's `-p`, default `./content` in the CLI). */
  readonly root: string
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
  const store = new ObjectStore(options.root)
  const ready = store.init()
  ready.catch(() => {})
  const live = new Map<string, { ingest: Ingest; req: IncomingMessage }>()

  async function ingestObject(
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
  ): Promise<void> {
    if (live.has(key)) return answer(res, 409, `${key} is being uploaded by another request`)
    if (!(await store.prepareKey(key))) {
      return answer(res, 409, `${key} conflicts with an existing object or directory`)
    }
    if (live.has(key)) return answer(res, 409, `${key} is being uploaded by another request`)
    const { path, file } = await store.createPartial()
    const ingest = new Ingest(key, path, pickHeaders(req))
    live.set(key, { ingest, req })
    try {
      await pipeline(requestBody(req), ingest.sink(file))
      if (!req.complete) throw new Error('the upload was cut short')
      await file.sync()
      await file.close()
      const etag = `"${ingest.written.toString(16)}-${Date.now().toString(16)}"`
      await store.commit(key, path, { size: ingest.written, headers: ingest.headers, etag })
      live.delete(key)
      ingest.complete()
      answer(res, 201, `stored ${key} (${ingest.written} bytes)`)
    } catch (error) {
      live.delete(key)
      ingest.abort(error as Error)
      await file.close().catch(() => {})
      await store.removePartial(path)
      if (!req.destroyed) answer(res, 400, `upload of ${key} failed: ${(error as Error).message}`)
    }
  }

  async function readObject(req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
    const current = live.get(key)
    if (current) {
      res.writeHead(200, { ...current.ingest.headers, 'Cache-Control': 'no-cache' })
      if (req.method === 'HEAD') {
        res.end()
        return
      }
      // Headers go out at once: a player learns the object is live before its first chunk lands.
      res.flushHeaders()
      return streamLive(current.ingest, res)
    }
    const meta = await store.meta(key)
    if (meta === undefined) return answer(res, 404, `no object at ${key}`)
    const { 'content-type': contentType, ...headers } = meta.headers
    const served = await serveFile(req, res, store.dataPath(key), {
      etag: meta.etag,
      ...(contentType === undefined ? {} : { contentType }),
      headers,
    })
    if (!served) answer(res, 404, `no object at ${key}`)
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
    if (await store.delete(key)) res.writeHead(204).end()
    else answer(res, 404, `no object at ${key}`)
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await ready
    const target = objectKey(options.root, req.url)
    const method = req.method ?? 'GET'
    if (target === undefined) {
      const status = method === 'PUT' || method === 'POST' ? 400 : 404
      return answer(
        res,
        status,
        `not an object key: ${new URL(req.url ?? '/', 'http://x').pathname}`,
      )
    }
    switch (method) {
      case 'PUT':
      case 'POST':
        return ingestObject(req, res, target.key)
      case 'GET':
      case 'HEAD':
        return readObject(req, res, target.key)
      case 'DELETE':
        return deleteObject(res, target.key)
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
      for (const { ingest, req } of live.values()) {
        ingest.abort(new Error('the server is closing'))
        req.destroy()
      }
      live.clear()
    },
  })
}

/** Creates (does not start) the origin's HTTP server. */
export function createChunkedServer(
  options: ChunkedServerOptions,
): Server & { handler: ChunkedHandler } {
  const handler = createChunkedHandler(options)
  const server = createServer({ requestTimeout: 0 }, handler)
  server.on('close', () => handler.close())
  return Object.assign(server, { handler })
}
