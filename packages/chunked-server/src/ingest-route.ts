import type { IncomingMessage, ServerResponse } from 'node:http'
import { Transform, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { abandonRequest, requestBody, unsupportedTransferCoding } from '@sluice/internal/http'
import { answer, refuse } from './answer.js'
import { contentTypeOf } from './content-type.js'
import {
  ChunkedServerError,
  ObjectTooLargeError,
  UnsupportedTransferCodingError,
  UploadAbortedError,
  uploadFailure,
} from './errors.js'
import type { ChunkedMetrics } from './metrics.js'
import type { Origin, Upload } from './origin.js'

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

/** The upload's content headers; without a Content-Type, one inferred from the key's extension. */
function contentHeaders(req: IncomingMessage, key: string): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const name of REPLAYED) {
    const value = req.headers[name]
    if (typeof value === 'string') headers[name] = value
  }
  const inferred = headers['content-type'] === undefined ? contentTypeOf(key) : undefined
  if (inferred !== undefined) headers['content-type'] = inferred
  return headers
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
function uploadSink(origin: Origin, upload: Upload): Writable {
  return new Writable({
    highWaterMark: 64 * 1024,
    writev(entries, callback) {
      const chunks = entries.map((entry) => entry.chunk as Buffer)
      origin.write(upload, chunks).then(() => callback(), callback)
    },
  })
}

export interface IngestOptions {
  readonly maxObjectSize: number
  readonly ingestIdleTimeout: number
  readonly metrics: ChunkedMetrics
}

/**
 * PUT/POST: streams the body into the storage, where live readers follow it, and answers `201`
 * once the object is complete and committed. Any failure tears the upload down at once (key
 * free, readers ended abnormally, nothing stored) and is answered with its status and reason.
 */
export async function ingestRoute(
  origin: Origin,
  options: IngestOptions,
  req: IncomingMessage,
  res: ServerResponse,
  key: string,
): Promise<void> {
  const codings = unsupportedTransferCoding(req)
  if (codings !== undefined) return refuse(res, new UnsupportedTransferCodingError(codings))
  const failed = `upload of ${key} failed: `
  const { maxObjectSize, ingestIdleTimeout } = options
  if (Number(req.headers['content-length'] ?? 0) > maxObjectSize) {
    return refuse(res, new ObjectTooLargeError(maxObjectSize), failed)
  }
  // Why the upload was given up on (idle, replaced, deleted): over HTTP/2 the body then fails
  // with a reset, not with this reason, and the request even looks complete.
  let abandoned: Error | undefined
  const abandon = (error: Error) => {
    abandoned ??= error
    abandonRequest(req, error)
  }
  const upload = await origin.begin(key, contentHeaders(req, key), abandon)
  if (upload instanceof ChunkedServerError) return refuse(res, upload)
  if (ingestIdleTimeout > 0) {
    req.setTimeout(ingestIdleTimeout, () => abandon(new Error('upload idle')))
  }
  try {
    const body = requestBody(req)
    const sink = uploadSink(origin, upload)
    if (Number.isFinite(maxObjectSize)) await pipeline(body, sizeLimit(maxObjectSize), sink)
    else await pipeline(body, sink)
    if (!req.complete) throw new UploadAbortedError('the upload was cut short')
    const { meta, stored } = await origin.complete(upload)
    options.metrics.countUpload(stored ? 'stored' : 'superseded', meta.size)
    // A superseded upload was taken whole, then replaced by the newer write: it was created.
    answer(
      res,
      201,
      stored
        ? `stored ${key} (${meta.size} bytes)`
        : `received ${key} (${meta.size} bytes); an upload of it that started later replaced it`,
    )
  } catch (error) {
    const failure = uploadFailure(abandoned ?? error, req.complete && abandoned === undefined)
    options.metrics.countUpload(failure.code, upload.bytes.size)
    await origin.fail(upload, failure)
    if (!res.headersSent && !res.destroyed) {
      // HTTP/2 has no Connection header: a stream is reset on its own.
      if (!req.complete && req.httpVersionMajor === 1) res.setHeader('Connection', 'close')
      refuse(res, failure, failed)
    }
  }
}
