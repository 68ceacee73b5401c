import type { IncomingMessage } from 'node:http'
import { constants as http2Constants, type ServerHttp2Stream } from 'node:http2'
import { Readable } from 'node:stream'
import { PARSE_ERROR, parseErrorOf } from './parse-error.js'

/** Body bytes read through {@link requestBody}, by request. */
const received = new WeakMap<IncomingMessage, number>()

/** How many bytes of a request's body its handler has read (through {@link requestBody}). */
export function bodyBytesReceived(req: IncomingMessage): number {
  return received.get(req) ?? 0
}

function aborted(): Error {
  return Object.assign(new Error('the request was aborted before its body was complete'), {
    code: 'ECONNRESET',
  })
}

/**
 * The request body as a Readable that pipeline() may destroy without destroying the request.
 * pipeline() destroys every stream of a failed chain, and destroying an unfinished
 * IncomingMessage destroys its socket: the 413 or 400 explaining the failure would never reach
 * the client. Backpressure is kept (`if (!push()) pause()`, resume in `_read`).
 *
 * A request that is already over when this is called is seen for what it is: one whose body was
 * read to its end ends at once; one that was destroyed, or whose body the server's parser
 * refused (a malformed chunked body, see `hardenServer`), fails at once, so that no caller waits
 * for an 'end' that will never come. Open it only when it is about to be consumed (pipeline):
 * it fails as soon as the request does, and an 'error' nobody listens for ends the process.
 */
export function requestBody(req: IncomingMessage): Readable {
  const onData = (chunk: Buffer): void => {
    received.set(req, (received.get(req) ?? 0) + chunk.length)
    if (!body.push(chunk)) req.pause()
  }
  const onEnd = (): void => {
    body.push(null)
  }
  const onError = (error: Error): void => {
    body.destroy(error)
  }
  // 'close' without 'end' first: the body was cut (parse error, reset, timeout).
  const onClose = (): void => {
    if (!req.readableEnded) body.destroy(aborted())
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
      req.off('close', onClose)
      req.off(PARSE_ERROR, onError)
      // Whatever is left of the body is discarded, not buffered.
      if (!req.readableEnded && !req.destroyed) req.resume()
      callback(error)
    },
  })
  if (req.readableEnded) {
    body.push(null)
    return body
  }
  const refused = parseErrorOf(req)
  if (req.destroyed || refused) {
    process.nextTick(() => body.destroy(refused ?? req.errored ?? aborted()))
    return body
  }
  req.on('data', onData)
  req.on('end', onEnd)
  req.on('error', onError)
  req.on('close', onClose)
  // The server's parser refused the rest of the body (malformed chunked framing).
  req.on(PARSE_ERROR, onError)
  return body
}

/**
 * Gives up on a request whose body is still coming (idle, superseded, deleted): node:http's
 * `req.destroy(error)` closes the connection, and the client sees it. An HTTP/2 request's
 * `destroy()` only ends the request object and leaves its stream open, so a client would go on
 * sending into a request nobody reads: its stream is reset instead, with NO_ERROR when the
 * response is already complete (RFC 9113 8.1: stop sending, the answer stands), CANCEL otherwise.
 */
export function abandonRequest(req: IncomingMessage, error: Error): void {
  const { stream } = req as IncomingMessage & { stream?: ServerHttp2Stream }
  if (req.httpVersionMajor !== 2 || stream === undefined) {
    req.destroy(error)
    return
  }
  const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL } = http2Constants
  stream.close(stream.writableEnded ? NGHTTP2_NO_ERROR : NGHTTP2_CANCEL)
}
