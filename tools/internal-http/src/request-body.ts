import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'

/**
 * The request body as a Readable that pipeline() may destroy without destroying the request.
 * pipeline() destroys every stream of a failed chain, and destroying an unfinished
 * IncomingMessage destroys its socket: the 413 or 400 explaining the failure would never reach
 * the client. Backpressure is kept (`if (!push()) pause()`, resume in `_read`).
 */
export function requestBody(req: IncomingMessage): Readable {
  const onData = (chunk: Buffer): void => {
    if (!body.push(chunk)) req.pause()
  }
  const onEnd = (): void => {
    body.push(null)
  }
  const onError = (error: Error): void => {
    body.destroy(error)
  }
  const onAborted = (): void => {
    if (!req.complete)
      body.destroy(Object.assign(new Error('request aborted'), { code: 'ECONNRESET' }))
  }
  const body: Readable = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      req.resume()
    },
    destroy(error, callback) {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onAborted)
      // Whatever is left of the body is discarded, not buffered.
      if (!req.readableEnded) req.resume()
      callback(error)
    },
  })
  req.on('data', onData)
  req.on('end', onEnd)
  req.on('error', onError)
  req.on('close', onAborted)
  return body
}
