import { once } from 'node:events'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { QUERY } from '@sluice/internal/fstream'
import WebSocket from 'ws'
import { FstreamConnectionError, FstreamError } from './errors.js'
import { readResource } from './read-resource.js'
import { attemptsOf, retryDelay, sleep } from './reconnect.js'
import { type ConnectOptions, openSession, type Session, webSocketUrl } from './websocket.js'

export interface AppendOptions extends ConnectOptions {
  /** Append only if the resource is exactly this long (resume after a reconnect); else 409. */
  readonly offset?: number
  /**
   * After a broken session (server restart, network failure), reconnect and resume after the last
   * byte the server has, with no loss and no duplicate: `true` for 10 attempts, or a number of
   * attempts; waits 100 ms, doubling up to 5 s. Bytes sent but not yet acknowledged are kept until
   * the server acknowledges them (at most 16 MiB: writes wait beyond that), and on resuming the
   * bytes the server holds past the last acknowledgement are compared with them (a ranged GET,
   * so the token, if any, must also allow reading).
   */
  readonly reconnect?: boolean | number
}

/** A Writable appending to a resource; `size` is the resource's durable size once finished. */
export interface AppendStream extends Writable {
  /** The resource's length once every written byte is acknowledged (after 'finish'). */
  readonly size: number
}

/** Bytes queued on the socket at which a write waits for them to be sent. */
const HIGH_WATER = 1024 * 1024
/** Bytes sent but not acknowledged that a reconnecting appender keeps, at most. */
const MAX_UNACKED = 16 * 1024 * 1024
/** Close codes after which a session may be resumed: the server went away, or the link broke. */
const RESUMABLE = new Set([1001, 1006])

const conflict = (message: string) => new FstreamError(message, 'FSTREAM_ERR_CONFLICT')

/**
 * Opens an append session as a Writable: each chunk written is sent as a binary frame (a write
 * completes at once unless more than 1 MiB is queued on the socket: backpressure); the stream
 * finishes only when the server has acknowledged the last byte as durable. Fails with
 * `FSTREAM_ERR_CONFLICT` (another appender, or `offset` is not the resource's length),
 * `FSTREAM_ERR_UNAUTHORIZED`, `FSTREAM_ERR_PROTOCOL`, or `FSTREAM_ERR_CONNECTION` if the
 * session ends before then (and, with `reconnect`, cannot be resumed).
 */
export function openAppend(url: string | URL, options: AppendOptions = {}): AppendStream {
  const attempts = attemptsOf(options.reconnect)
  const keep = attempts > 0
  let session: Session | undefined
  let resuming = false
  let closing = false
  let failure: Error | undefined
  /** Absolute offset where this appender's bytes start; the durable length; bytes written. */
  let start = -1
  let acked = -1
  let written = 0
  /** With `reconnect`: the bytes from `acked` to the end of what was written. */
  const unacked: Buffer[] = []
  let unackedBytes = 0
  const end = () => start + written

  const waiters = new Set<() => void>()
  const wake = () => {
    for (const waiter of waiters) waiter()
    waiters.clear()
  }
  const changed = () => new Promise<void>((resolve) => waiters.add(resolve))
  const onSent = () => {
    if (waiters.size > 0) wake()
  }

  const acknowledge = (offset: number) => {
    if (offset <= acked) return
    acked = offset
    let surplus = unackedBytes - (end() - acked)
    while (surplus > 0 && unacked.length > 0) {
      const first = unacked[0] as Buffer
      if (first.length <= surplus) {
        unacked.shift()
        unackedBytes -= first.length
        surplus -= first.length
      } else {
        unacked[0] = first.subarray(surplus)
        unackedBytes -= surplus
        surplus = 0
      }
    }
    wake()
  }
  const fail = (error: Error) => {
    failure ??= error
    wake()
  }

  /** The bytes the server holds past the last acknowledgement must be the ones sent. */
  const verify = async (length: number) => {
    const expected = Buffer.concat(unacked).subarray(0, length)
    const held: Buffer[] = []
    let got = 0
    const body = await readResource(url, {
      offset: acked,
      ...(options.token === undefined ? {} : { token: options.token }),
    })
    for await (const chunk of body as AsyncIterable<Buffer>) {
      held.push(chunk)
      got += chunk.length
      if (got >= length) break
    }
    body.destroy()
    if (!Buffer.concat(held).subarray(0, length).equals(expected)) {
      throw conflict(`${url}: the bytes after the last acknowledged offset are not the ones sent`)
    }
  }

  /** Opens a session; `first` honours `offset`, a resumed one checks where the server is. */
  const connect = async (first: boolean): Promise<void> => {
    const target = webSocketUrl(url)
    target.searchParams.set(QUERY.verb, 'APPEND')
    if (first && options.offset !== undefined) {
      target.searchParams.set(QUERY.offset, String(options.offset))
    }
    let onReady: (offset: number) => void = () => {}
    const ready = new Promise<number>((resolve) => {
      onReady = resolve
    })
    const opened = await openSession(target, options, {
      onControl: (message) => {
        if (message.type === 'ready') onReady(message.offset)
        else acknowledge(message.offset)
      },
      onData: () => {},
    })
    const closed = once(opened.ws, 'close') as Promise<[number, Buffer]>
    const offset = await Promise.race([ready, closed.then(() => undefined)])
    try {
      if (offset === undefined) {
        throw (
          opened.protocolError() ??
          new FstreamConnectionError(`${url}: the append session closed before it was ready`)
        )
      }
      if (first) {
        start = offset
        acked = offset
      } else {
        if (offset < acked) {
          throw conflict(
            `${url}: the resource is ${offset} bytes, shorter than the ${acked} acknowledged`,
          )
        }
        if (offset > end()) {
          throw conflict(`${url}: the resource is ${offset} bytes: someone else appended to it`)
        }
        if (offset > acked) await verify(offset - acked)
        // What the server says it has at the start of a session is durable.
        acknowledge(offset)
        for (const chunk of unacked) opened.ws.send(chunk, { binary: true }, onSent)
      }
    } catch (error) {
      opened.ws.terminate()
      throw error
    }
    session = opened
    closed.then(([code, reason]) => onClose(opened, code, reason.toString()))
    wake()
  }

  const onClose = (closed: Session, code: number, reason: string) => {
    if (closed !== session) return
    session = undefined
    const broken = closed.protocolError()
    if (broken) return fail(broken)
    // The closing handshake of a finished append: everything was acknowledged before it.
    if (closing) return wake()
    const error = new FstreamConnectionError(
      `${url}: the append session ended (${code} ${reason}) before the data was acknowledged`,
    )
    if (!keep || !RESUMABLE.has(code)) return fail(error)
    resume(error)
  }

  const resume = async (cause: Error) => {
    resuming = true
    wake()
    let last = cause
    for (let failures = 0; failures < attempts && !stream.destroyed; failures++) {
      await sleep(retryDelay(failures))
      try {
        await connect(false)
        resuming = false
        return
      } catch (error) {
        last = error as Error
        // 409 may be our own old session, still held by a server that has not noticed it died.
        const retryable =
          error instanceof FstreamConnectionError ||
          (error instanceof FstreamError && error.status === 409)
        if (!retryable) break
      }
    }
    resuming = false
    fail(
      last === cause || last instanceof FstreamConnectionError
        ? new FstreamConnectionError(`${url}: could not resume the append (${last.message})`, {
            cause: last,
          })
        : last,
    )
  }

  /** Resolves once a write may complete: a session with room, nothing more to wait for. */
  const room = async () => {
    while (
      !failure &&
      (resuming ||
        (keep && unackedBytes > MAX_UNACKED) ||
        (session !== undefined && session.ws.bufferedAmount > HIGH_WATER))
    ) {
      await changed()
    }
    if (failure) throw failure
  }

  const onAbort = () => stream.destroy(options.signal?.reason ?? new Error('aborted'))
  const stream = new Writable({
    construct(callback) {
      connect(true).then(() => callback(), callback)
    },
    write(chunk: Buffer, _encoding, callback) {
      if (failure) return callback(failure)
      written += chunk.length
      if (keep) {
        unacked.push(chunk)
        unackedBytes += chunk.length
      }
      // Without a session (resuming), the chunk goes out with the others once resumed.
      if (session !== undefined && session.ws.readyState === WebSocket.OPEN) {
        session.ws.send(chunk, { binary: true }, onSent)
      } else if (!keep) {
        return callback(failure ?? new FstreamConnectionError(`${url}: the append session ended`))
      }
      room().then(() => callback(), callback)
    },
    final(callback) {
      ;(async () => {
        while (!failure && !(session !== undefined && acked >= end())) await changed()
        if (failure) throw failure
        const last = session as Session
        const closed = once(last.ws, 'close')
        closing = true
        last.ws.close(1000)
        await closed
      })().then(() => callback(), callback)
    },
    destroy(error, callback) {
      options.signal?.removeEventListener('abort', onAbort)
      fail(error ?? new Error('destroyed'))
      session?.ws.terminate()
      callback(error)
    },
  })
  if (options.signal?.aborted) onAbort()
  else options.signal?.addEventListener('abort', onAbort, { once: true })
  stream.once('finish', () => options.signal?.removeEventListener('abort', onAbort))
  return Object.defineProperty(stream, 'size', { get: end }) as AppendStream
}

/**
 * Appends everything `source` gives (bytes or strings; a Node Readable such as `process.stdin` is
 * one) over one session (with `reconnect`, resumed as needed) and resolves with the resource's
 * durable size once the server has acknowledged the last byte. See {@link openAppend} for the
 * errors.
 */
export async function append(
  url: string | URL,
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  options: AppendOptions = {},
): Promise<number> {
  const stream = openAppend(url, options)
  await pipeline(source, stream)
  return stream.size
}
