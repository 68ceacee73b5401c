import type { IncomingMessage, ServerResponse } from 'node:http'
import { serveRepresentation, whenClientLeaves } from '@sluice/internal/http'
import { readLive } from '@sluice/internal/live'
import { refuse } from './answer.js'
import { blockingReload } from './blocking-reload.js'
import { ChunkedServerError, ObjectNotFoundError } from './errors.js'
import type { ChunkedMetrics } from './metrics.js'
import type { Origin, Upload } from './origin.js'
import { playlistDirectives } from './playlist.js'

const READ_SIZE = 64 * 1024
const MAX_REQUESTED_WAIT_MS = 60_000

/** `Expires: in=N` (seconds) on a GET: how long this request is willing to wait for the key. */
function requestedWaitMs(req: IncomingMessage): number | undefined {
  const match = /^\s*in=(\d+(?:\.\d+)?)\s*$/.exec(req.headers.expires ?? '')
  return match ? Math.min(Number(match[1]) * 1000, MAX_REQUESTED_WAIT_MS) : undefined
}

/** Resolves when the response can take more ('drain') or will take nothing more ('close'). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done)
      resolve()
    }
    res.once('drain', done).once('close', done)
  })
}

/**
 * A GET of an object still arriving: `200` at once, then everything stored so far and each chunk
 * as it lands (from the shared live core), until the upload ends; an aborted upload destroys the
 * response (the client sees an incomplete chunked body, never a clean end). This module adds only
 * the transport's backpressure: it waits for 'drain' whenever a write says so.
 */
async function streamLive(
  origin: Origin,
  upload: Upload,
  req: IncomingMessage,
  res: ServerResponse,
  metrics: ChunkedMetrics,
): Promise<void> {
  // The upload's content headers, Cache-Control included, as the finished object will have them:
  // a cache may keep what it streams (an aborted upload ends the response abnormally, which no
  // cache keeps), so edges in front of the origin fetch each live object once.
  res.writeHead(200, upload.headers)
  if (req.method === 'HEAD') {
    res.end()
    return
  }
  // Headers go out at once: a player learns the object is live before its first chunk lands.
  // (HTTP/2's compatibility response sends them in writeHead already.)
  if (typeof res.flushHeaders === 'function') res.flushHeaders()
  const reader = origin.openReader(upload)
  metrics.liveReaders.inc()
  const gone = new AbortController()
  // A reader that leaves, or half-closes, is gone: nobody will read what comes next.
  const stopWatching = whenClientLeaves(req, res, () => gone.abort())
  try {
    const chunks = readLive(upload.bytes, reader, { chunkSize: READ_SIZE, signal: gone.signal })
    for await (const bytes of chunks) {
      if (!res.write(bytes)) await drained(res)
      if (gone.signal.aborted) break
    }
    if (!gone.signal.aborted) res.end()
  } catch (error) {
    res.destroy(error as Error)
  } finally {
    metrics.liveReaders.dec()
    stopWatching()
    await reader.close()
  }
}

export interface ReadOptions {
  /** How long a GET for a key not uploaded yet waits for it (ms). */
  readonly waitMs: number
  readonly metrics: ChunkedMetrics
}

/**
 * GET/HEAD: an object still arriving is streamed live; a finished one is answered like a static
 * file; a key not uploaded yet waits (wait-for-content, `Expires: in=N`) for its upload to start,
 * then `404` with `Waited-For-Data-Ms`.
 */
export async function readRoute(
  origin: Origin,
  options: ReadOptions,
  req: IncomingMessage,
  res: ServerResponse,
  key: string,
  waited = false,
): Promise<void> {
  const { metrics } = options
  // A blocking playlist reload (held until the playlist holds what it asks for), a delta update.
  const directives = waited ? undefined : playlistDirectives(req.url)
  if (directives !== undefined) {
    try {
      if (await blockingReload(origin, req, res, key, directives, metrics)) return
    } catch (error) {
      if (error instanceof ChunkedServerError) return refuse(res, error)
      throw error
    }
  }
  const upload = origin.uploading(key)
  if (upload) {
    metrics.countGet(key, waited ? 'waited' : 'live')
    return streamLive(origin, upload, req, res, metrics)
  }
  const waitMs = waited ? 0 : (requestedWaitMs(req) ?? options.waitMs)
  const started = Date.now()
  // Listen for the upload before looking in storage: one that starts while we look is not missed.
  const gone = new AbortController()
  const arrival =
    waitMs > 0 ? origin.waitFor(key, { timeoutMs: waitMs, signal: gone.signal }) : undefined
  const meta = await origin.finished(key).catch((error: unknown) => {
    gone.abort()
    throw error
  })
  if (meta === undefined) {
    if (arrival !== undefined) {
      const stopWatching = whenClientLeaves(req, res, () => gone.abort())
      metrics.waiting.inc()
      const outcome = await arrival
      metrics.waiting.dec()
      stopWatching()
      if (outcome === 'aborted') return
      res.setHeader('Waited-For-Data-Ms', String(Date.now() - started))
      if (outcome === 'arrived') return readRoute(origin, options, req, res, key, true)
    }
    metrics.countGet(key, waited ? 'waited' : 'missing')
    return refuse(res, new ObjectNotFoundError(key))
  }
  gone.abort()
  metrics.countGet(key, waited ? 'waited' : 'finished')
  const object = await origin.open(key, meta)
  if (object instanceof ChunkedServerError) return refuse(res, object)
  await serveRepresentation(req, res, object)
}
