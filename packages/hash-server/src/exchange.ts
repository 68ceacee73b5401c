import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type DigestFields, formatDigestField, parseDigestFields } from './digest-fields.js'
import type { HashServerError } from './errors.js'

/**
 * The rest of a refused body is read and dropped so that the client sees the answer, as nginx's
 * lingering close does (with its default times): while the client keeps sending with pauses under
 * DRAIN_IDLE_MS, up to DRAIN_MAX_MS in all. A fixed 2 s was too short for a client still writing
 * tens of MiB on a busy machine: it was reset before it read the answer.
 */
const DRAIN_IDLE_MS = 5_000
const DRAIN_MAX_MS = 30_000

const TEXT = 'text/plain; charset=utf-8'

/**
 * Closing at once would reset a client still writing, before it reads the answer (EPIPE): read and
 * drop the rest of the body while it comes, then give up on the connection.
 */
function lingerOnRefusedBody(req: IncomingMessage): void {
  const { socket } = req
  // Node ends the last response of a connection (`Connection: close`, HTTP/1.0) with
  // `destroySoon()`, which destroys the socket once the answer is flushed: only half-close it.
  socket.destroySoon = () => socket.end()
  const stop = () => {
    clearTimeout(idle)
    clearTimeout(total)
    req.off('data', onData)
    req.off('end', stop)
    socket.off('close', stop)
  }
  const giveUp = () => {
    stop()
    socket.destroy()
  }
  const idle = setTimeout(giveUp, DRAIN_IDLE_MS).unref()
  const total = setTimeout(giveUp, DRAIN_MAX_MS).unref()
  const onData = () => idle.refresh()
  req.on('data', onData)
  req.resume()
  // The whole body read: a keep-alive connection goes on with its next request.
  req.once('end', stop)
  socket.once('close', stop)
}

/**
 * One request and its answer: what the request asked for (its digest fields, read once; JSON or
 * text) and every way of answering it. An answer carries `Content-Digest`/`Repr-Digest` of its
 * own content when the request wants them (RFC 9530).
 */
export class Exchange {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly url: URL
  /** The request's digest fields; malformed ones are `fieldsError` (a body request fails on it). */
  readonly fields: DigestFields | undefined
  readonly fieldsError: HashServerError | undefined
  /** The client waits for `100 Continue`, not yet sent: it has not sent its body. */
  awaitingContinue = false

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.req = req
    this.res = res
    this.url = new URL(req.url ?? '/', 'http://localhost')
    let fields: DigestFields | undefined
    let fieldsError: HashServerError | undefined
    try {
      fields = parseDigestFields(req.headers)
    } catch (error) {
      fieldsError = error as HashServerError
    }
    this.fields = fields
    this.fieldsError = fieldsError
  }

  /** Whether the client accepts JSON (and did not refuse it with `q=0`). */
  get wantsJson(): boolean {
    return /\bapplication\/json\b(?!\s*;\s*q=0(?:\.0*)?\s*(?:,|$))/i.test(
      this.req.headers.accept ?? '',
    )
  }

  /** Sends `content`, with Content-Digest/Repr-Digest of that content when the client wants them. */
  send(status: number, content: string, contentType: string = TEXT): void {
    const { req, res, fields } = this
    const body = Buffer.from(content)
    res.statusCode = status
    res.setHeader('Content-Type', contentType)
    res.setHeader('Content-Length', body.length)
    // RFC 9530: these describe this response's own content (no Content-Encoding: both are equal).
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

  /** Answers with no content: a tus answer, whose meaning is in its headers. */
  sendEmpty(status: number): void {
    this.res.statusCode = status
    if (status !== 204) this.res.setHeader('Content-Length', 0)
    this.res.end()
  }

  /** JSON when the client accepts it, else the md5sum-style text. */
  sendDigests(status: number, answer: object, text: () => string): void {
    if (this.wantsJson) this.send(status, `${JSON.stringify(answer)}\n`, 'application/json')
    else this.send(status, text())
  }

  /**
   * Answers a failure with its status: `{"error": {code, message}}` or its message. A body still
   * arriving is read and dropped for a while so that the client sees the answer, not a reset.
   */
  sendError(error: HashServerError): void {
    const { req, res } = this
    if (res.headersSent || res.destroyed) {
      res.destroy(error)
      return
    }
    if (this.awaitingContinue) {
      // The client waits for 100 Continue and will not send the body: no reason to keep the line.
      res.setHeader('Connection', 'close')
    } else if (!req.complete && !req.destroyed) {
      lingerOnRefusedBody(req)
    }
    if (this.wantsJson) {
      const payload = { error: { code: error.code, message: error.message } }
      this.send(error.status, `${JSON.stringify(payload)}\n`, 'application/json')
    } else {
      this.send(error.status, `${error.message}\n`)
    }
  }

  /** Sends `100 Continue` to a client waiting for it: its request is accepted. */
  continue(): void {
    if (!this.awaitingContinue) return
    this.awaitingContinue = false
    this.res.writeContinue()
  }
}
