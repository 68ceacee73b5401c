import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CLOSE, QUERY } from '@sluice/internal/fstream'
import WebSocket from 'ws'
import { closeError, FstreamConnectionError, FstreamError } from './errors.js'
import { readResource } from './read-resource.js'
import { attemptsOf, retryDelay, sleep } from './reconnect.js'
import { type ResourceUrl, ResourceUrls } from './urls.js'
import {
  type ConnectOptions,
  closeOf,
  openSession,
  type Session,
  webSocketUrl,
} from './websocket.js'

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
const RESUMABLE = new Set<number>([CLOSE.goingAway, CLOSE.abnormal])

const conflict = (message: string) => new FstreamError(message, 'FSTREAM_ERR_CONFLICT')

/** The bytes sent past the last acknowledgement, kept to be sent again after a reconnect. */
class Unacknowledged {
  readonly #chunks: Buffer[] = []
  #bytes = 0

  get bytes(): number {
    return this.#bytes
  }

  get chunks(): readonly Buffer[] {
    return this.#chunks
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk)
    this.#bytes += chunk.length
  }

  /** Keeps only the last `count` bytes: the others are acknowledged. */
  keepLast(count: number): void {
    let surplus = this.#bytes - count
    while (surplus > 0 && this.#chunks.length > 0) {
      const first = this.#chunks[0] as Buffer
      const dropped = Math.min(first.length, surplus)
      if (dropped === first.length) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(dropped)
      this.#bytes -= dropped
      surplus -= dropped
    }
  }
}

/**
 * An appender's state across its sessions: where its bytes start on the server, what is
 * acknowledged, what was sent, the current session; and what to do when a session breaks.
 */
class Appender {
  readonly #urls: ResourceUrls
  readonly #options: AppendOptions
  readonly #attempts: number
  readonly #unacked: Unacknowledged | undefined
  #session: Session | undefined
  #resuming = false
  #closing = false
  #failure: Error | undefined
  /** Absolute offset where this appender's bytes start, the durable length, bytes written. */
  #start = -1
  #acked = -1
  #written = 0
  readonly #waiters = new Set<() => void>()

  constructor(url: ResourceUrl, options: AppendOptions) {
    this.#urls = new ResourceUrls(url)
    this.#options = options
    this.#attempts = attemptsOf(options.reconnect)
    this.#unacked = this.#attempts > 0 ? new Unacknowledged() : undefined
  }

  /** The resource's length once everything written is there. */
  get end(): number {
    return this.#start + this.#written
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter()
    this.#waiters.clear()
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.add(resolve))
  }

  readonly #onSent = (): void => {
    if (this.#waiters.size > 0) this.#wake()
  }

  #acknowledge(offset: number): void {
    if (offset <= this.#acked) return
    this.#acked = offset
    this.#unacked?.keepLast(this.end - offset)
    this.#wake()
  }

  fail(error: Error): void {
    this.#failure ??= error
    this.#session?.ws.terminate()
    this.#wake()
  }

  /** Opens the first session, through the first URL whose server can be reached. */
  async open(): Promise<void> {
    for (let tried = 1; ; tried++) {
      try {
        return await this.connect(true)
      } catch (error) {
        if (!(error instanceof FstreamConnectionError) || tried >= this.#urls.count) throw error
        this.#urls.next()
      }
    }
  }

  /** Opens a session; the first honours `offset`, a resumed one checks where the server is. */
  async connect(first: boolean): Promise<void> {
    const target = webSocketUrl(this.#urls.current)
    target.searchParams.set(QUERY.verb, 'APPEND')
    if (first && this.#options.offset !== undefined) {
      target.searchParams.set(QUERY.offset, String(this.#options.offset))
    }
    let onReady: (offset: number) => void = () => {}
    const ready = new Promise<number>((resolve) => {
      onReady = resolve
    })
    const opened = await openSession(target, this.#options, {
      onControl: (message) => {
        if (message.type === 'ready') onReady(message.offset)
        else this.#acknowledge(message.offset)
      },
      onData: () => {},
    })
    const closed = closeOf(opened.ws)
    const offset = await Promise.race([ready, closed.then(() => undefined)])
    try {
      if (offset === undefined) {
        throw (
          opened.protocolError() ??
          new FstreamConnectionError(
            `${this.#urls.current}: the append session closed before it was ready`,
          )
        )
      }
      if (first) {
        this.#start = offset
        this.#acked = offset
      } else {
        await this.#resumeAt(offset)
        for (const chunk of this.#unacked?.chunks ?? []) {
          opened.ws.send(chunk, { binary: true }, this.#onSent)
        }
      }
    } catch (error) {
      opened.ws.terminate()
      throw error
    }
    this.#session = opened
    void closed.then(([code, reason]) => this.#onClose(opened, code, reason.toString()))
    this.#wake()
  }

  /** A resumed session starts at `offset`: it must lie between what was acknowledged and sent. */
  async #resumeAt(offset: number): Promise<void> {
    if (offset < this.#acked) {
      throw conflict(
        `${this.#urls.current}: the resource is ${offset} bytes, shorter than the ${this.#acked} acknowledged`,
      )
    }
    if (offset > this.end) {
      throw conflict(
        `${this.#urls.current}: the resource is ${offset} bytes: someone else appended to it`,
      )
    }
    if (offset > this.#acked) await this.#verify(offset - this.#acked)
    // What the server says it has at the start of a session is durable.
    this.#acknowledge(offset)
  }

  /** The bytes the server holds past the last acknowledgement must be the ones sent. */
  async #verify(length: number): Promise<void> {
    const expected = Buffer.concat(this.#unacked?.chunks ?? []).subarray(0, length)
    const held: Buffer[] = []
    let got = 0
    const token = this.#options.token
    const body = await readResource(this.#urls.current, {
      offset: this.#acked,
      ...(token === undefined ? {} : { token }),
    })
    for await (const chunk of body as AsyncIterable<Buffer>) {
      held.push(chunk)
      got += chunk.length
      if (got >= length) break
    }
    body.destroy()
    if (!Buffer.concat(held).subarray(0, length).equals(expected)) {
      throw conflict(
        `${this.#urls.current}: the bytes after the last acknowledged offset are not the ones sent`,
      )
    }
  }

  #onClose(closed: Session, code: number, reason: string): void {
    if (closed !== this.#session) return
    this.#session = undefined
    const broken = closed.protocolError() ?? closeError(String(this.#urls.current), code, reason)
    const error =
      broken ??
      new FstreamConnectionError(
        `${this.#urls.current}: the append session ended (${code} ${reason}) before the data was acknowledged`,
      )
    // The closing handshake of a finished append: everything was acknowledged before it.
    if (this.#closing && !broken) this.#wake()
    else if (broken || this.#unacked === undefined || !RESUMABLE.has(code)) this.fail(error)
    // It reports its own outcome (a new session, or the failure).
    else void this.#resume(error)
  }

  async #resume(cause: Error): Promise<void> {
    this.#resuming = true
    this.#wake()
    let last = cause
    for (let failures = 0; failures < this.#attempts && !this.#failure; failures++) {
      await sleep(retryDelay(failures))
      try {
        await this.connect(false)
        this.#resuming = false
        return
      } catch (error) {
        last = error as Error
        // 409 may be our own old session, still held by a server that has not noticed it died
        // (or, on shared storage, a lease that has not lapsed yet).
        const retryable =
          error instanceof FstreamConnectionError ||
          (error instanceof FstreamError && error.status === 409)
        if (!retryable) break
        this.#urls.next()
      }
    }
    this.#resuming = false
    this.fail(
      last instanceof FstreamConnectionError
        ? new FstreamConnectionError(
            `${this.#urls.current}: could not resume the append (${last.message})`,
            {
              cause: last,
            },
          )
        : last,
    )
  }

  /**
   * Sends a chunk (or keeps it for the next session). Returns nothing when there is room for
   * more at once, else a promise that resolves when there is (writes stay synchronous when they
   * can: they are the hot path).
   */
  write(chunk: Buffer): Promise<void> | undefined {
    if (this.#failure) throw this.#failure
    this.#written += chunk.length
    this.#unacked?.push(chunk)
    const session = this.#session
    // Without a session (resuming), the chunk goes out with the others once resumed.
    if (session !== undefined && session.ws.readyState === WebSocket.OPEN) {
      session.ws.send(chunk, { binary: true }, this.#onSent)
    } else if (this.#unacked === undefined) {
      throw (
        this.#failure ??
        new FstreamConnectionError(`${this.#urls.current}: the append session ended`)
      )
    }
    return this.#mustWait() ? this.#room() : undefined
  }

  #mustWait(): boolean {
    return (
      !this.#failure &&
      (this.#resuming ||
        (this.#unacked !== undefined && this.#unacked.bytes > MAX_UNACKED) ||
        (this.#session !== undefined && this.#session.ws.bufferedAmount > HIGH_WATER))
    )
  }

  async #room(): Promise<void> {
    while (this.#mustWait()) await this.#changed()
    if (this.#failure) throw this.#failure
  }

  /** Waits until every byte is acknowledged, then closes the session normally. */
  async finish(): Promise<void> {
    while (!this.#failure && !(this.#session !== undefined && this.#acked >= this.end)) {
      await this.#changed()
    }
    if (this.#failure) throw this.#failure
    const last = this.#session as Session
    const closed = closeOf(last.ws)
    this.#closing = true
    last.ws.close(CLOSE.normal)
    await closed
  }
}

/**
 * Opens an append session as a Writable: each chunk written is sent as a binary frame (a write
 * completes at once unless more than 1 MiB is queued on the socket: backpressure); the stream
 * finishes only when the server has acknowledged the last byte as durable. Fails with
 * `FSTREAM_ERR_CONFLICT` (another appender, or `offset` is not the resource's length),
 * `FSTREAM_ERR_UNAUTHORIZED`, `FSTREAM_ERR_PROTOCOL`, or `FSTREAM_ERR_CONNECTION` if the
 * session ends before then (and, with `reconnect`, cannot be resumed).
 */
export function openAppend(url: ResourceUrl, options: AppendOptions = {}): AppendStream {
  const appender = new Appender(url, options)
  const onAbort = () => stream.destroy(options.signal?.reason ?? new Error('aborted'))
  const stream = new Writable({
    construct(callback) {
      appender.open().then(() => callback(), callback)
    },
    write(chunk: Buffer, _encoding, callback) {
      let room: Promise<void> | undefined
      try {
        room = appender.write(chunk)
      } catch (error) {
        return callback(error as Error)
      }
      if (room === undefined) callback()
      else room.then(() => callback(), callback)
    },
    final(callback) {
      appender.finish().then(() => callback(), callback)
    },
    destroy(error, callback) {
      options.signal?.removeEventListener('abort', onAbort)
      appender.fail(error ?? new Error('destroyed'))
      callback(error)
    },
  })
  if (options.signal?.aborted) onAbort()
  else options.signal?.addEventListener('abort', onAbort, { once: true })
  stream.once('finish', () => options.signal?.removeEventListener('abort', onAbort))
  return Object.defineProperty(stream, 'size', { get: () => appender.end }) as AppendStream
}

/**
 * Appends everything `source` gives (bytes or strings; a Node Readable such as `process.stdin` is
 * one) over one session (with `reconnect`, resumed as needed) and resolves with the resource's
 * durable size once the server has acknowledged the last byte. See {@link openAppend} for the
 * errors.
 */
export async function append(
  url: ResourceUrl,
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  options: AppendOptions = {},
): Promise<number> {
  const stream = openAppend(url, options)
  await pipeline(source, stream)
  return stream.size
}
