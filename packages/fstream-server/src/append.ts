import { CLOSE } from '@sluice/internal/fstream'
import { ResourceGoneError } from './errors.js'
import type { Framing } from './framing.js'
import type { SessionSocket } from './session-socket.js'
import type { AppendTarget } from './storage/index.js'

/** Bytes received but not yet written at which the appender's socket is paused. */
const PAUSE_AT = 4 * 1024 * 1024

export interface AppendOptions {
  readonly maxSize: number
  readonly heartbeatMs: number
  readonly framing: Framing
  /** Reports a protocol violation or storage failure of this session, once. */
  readonly log: (message: string) => void
  /** Told of each batch of bytes written to the resource. */
  readonly stored?: (bytes: number) => void
}

/** A reason for a close frame, within the 123 bytes a close frame allows. */
const reason = (text: string) => text.slice(0, 120)

/** Close codes after which an append may be resumed: the resource is left unfinished. */
const RESUMABLE = new Set<number>([CLOSE.goingAway, CLOSE.abnormal, CLOSE.internalError])

/**
 * One APPEND session. Data frames are stored in order; durability runs beside the writes: each
 * sync covers everything written before it started, so acknowledgements come as often as the
 * storage allows without slowing the writes down.
 */
class AppendSession {
  readonly #ws: SessionSocket
  readonly #target: AppendTarget
  readonly #options: AppendOptions
  #pending: Buffer[] = []
  #pendingBytes = 0
  #writing: Promise<void> | undefined
  #syncing: Promise<void> | undefined
  /** Bytes of the resource stored (readable by followers), and durable. */
  #stored: number
  #durable: number
  /** Storing failed: 1011. */
  #failure: Error | undefined
  /** ws found a protocol violation: its code. */
  #violation: Error | undefined
  /** The session refused data (1003, 1009): no more is taken. */
  #refusal: { readonly code: number; readonly reason: string } | undefined
  #ended: Promise<void> | undefined

  constructor(ws: SessionSocket, target: AppendTarget, options: AppendOptions) {
    this.#ws = ws
    this.#target = target
    this.#options = options
    this.#stored = target.start
    this.#durable = target.start
  }

  /** Resolves once the session is over: everything received stored, the file closed. */
  run(): Promise<void> {
    const ws = this.#ws
    // The server logs it; the close reply needs to know it.
    ws.on('error', (error: Error) => {
      this.#violation = error
    })
    const heartbeat = this.#heartbeat()
    const onLost = () => this.#lose(this.#target.lost.reason as Error)
    this.#target.lost.addEventListener('abort', onLost, { once: true })
    return new Promise((resolve) => {
      // The resource is free for the next appender before the close reply says so. It is left
      // unfinished (followers wait for the next appender) when the append may be resumed.
      const end = (code: number | undefined) => {
        this.#ended ??= this.#settled()
          .then(() => {
            const resumable =
              this.#failure !== undefined ||
              this.#target.lost.aborted ||
              RESUMABLE.has(code ?? CLOSE.normal)
            return this.#target.close(!resumable)
          })
          .catch((error: Error) => this.#options.log(`APPEND end failed: ${error.message}`))
          .finally(() => {
            this.#target.lost.removeEventListener('abort', onLost)
            clearInterval(heartbeat)
            resolve()
          })
        return this.#ended
      }
      ws.holdCloseReply(async (code) => {
        await end(code)
        return this.#closeReply(code)
      })
      ws.once('close', (code: number) => void end(code))
      // Where this session starts: a client that did not ask for an offset learns it here.
      this.#options.framing.control(ws, { type: 'ready', offset: this.#target.start })
      ws.on('message', (data: Buffer, isBinary: boolean) => this.#receive(data, isBinary))
    })
  }

  /** The close frame: 1000 only when every byte received is written, synced and acknowledged. */
  #closeReply(code: number | undefined): [number, string] {
    if (this.#violation && code !== undefined) return [code, reason(this.#violation.message)]
    if (this.#failure)
      return [CLOSE.internalError, reason(`cannot store: ${this.#failure.message}`)]
    if (this.#refusal) return [this.#refusal.code, this.#refusal.reason]
    return [CLOSE.normal, `${this.#durable} bytes stored`]
  }

  #receive(data: Buffer, isBinary: boolean): void {
    if (this.#failure || this.#refusal || this.#ws.readyState !== this.#ws.OPEN) return
    const judged = this.#options.framing.appendFrame(data, isBinary)
    if (judged === 'ignore') return
    if (judged !== 'data') {
      this.#refuse(judged.code, judged.reason)
      return
    }
    const { maxSize } = this.#options
    if (this.#stored + this.#pendingBytes + data.length > maxSize) {
      this.#refuse(CLOSE.tooBig, `the resource may not grow past ${maxSize} bytes`)
      return
    }
    this.#pending.push(data)
    this.#pendingBytes += data.length
    if (this.#pendingBytes >= PAUSE_AT) this.#ws.pause()
    this.#schedule()
  }

  /** Stops taking data; says why once what came before is stored. */
  #refuse(code: number, why: string): void {
    this.#refusal = { code, reason: why }
    this.#options.log(`APPEND closed: ${why}`)
    void this.#settled().then(() => this.#ws.closeNow(code, why))
  }

  /** The storage took the resource away (deleted, or taken over): no more data is taken. */
  #lose(why: Error): void {
    const code = why instanceof ResourceGoneError ? CLOSE.gone : CLOSE.superseded
    this.#refusal = { code, reason: reason(why.message) }
    this.#options.log(`APPEND closed: ${why.message}`)
    this.#ws.closeNow(code, reason(why.message))
  }

  #fail(error: Error): void {
    if (this.#failure) return
    this.#failure = error
    this.#options.log(`APPEND failed: cannot store: ${error.message}`)
    this.#ws.closeNow(CLOSE.internalError, reason(`cannot store: ${error.message}`))
  }

  #schedule(): void {
    this.#writing ??= this.#flush()
      .catch((error: Error) => this.#fail(error))
      .finally(() => {
        this.#writing = undefined
        if (this.#pending.length > 0 && !this.#failure) this.#schedule()
      })
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0 && !this.#failure) {
      const batch = this.#pending
      this.#pending = []
      this.#pendingBytes = 0
      if (this.#target.lost.aborted) return
      await this.#target.write(batch)
      const bytes = batch.reduce((sum, chunk) => sum + chunk.length, 0)
      this.#stored += bytes
      this.#options.stored?.(bytes)
      // Runs beside the next writes; its failure is handled where it happens.
      void this.#sync()
      if (this.#ws.isPaused && this.#pendingBytes < PAUSE_AT) this.#ws.resume()
    }
  }

  #sync(): Promise<void> {
    this.#syncing ??= (async () => {
      while (this.#durable < this.#stored && !this.#failure && !this.#target.lost.aborted) {
        this.#durable = await this.#target.sync()
        if (this.#ws.readyState === this.#ws.OPEN) {
          this.#options.framing.control(this.#ws, { type: 'ack', offset: this.#durable })
        }
      }
    })()
      .catch((error: Error) => this.#fail(error))
      .finally(() => {
        this.#syncing = undefined
      })
    return this.#syncing
  }

  /** Resolves once everything received is written and synced (or storing failed). */
  async #settled(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing
    while (
      !this.#failure &&
      !this.#target.lost.aborted &&
      (this.#syncing !== undefined || this.#durable < this.#stored)
    ) {
      await (this.#syncing ?? this.#sync())
    }
  }

  /** Pings the appender; one that misses a pong is dropped. */
  #heartbeat(): NodeJS.Timeout {
    let alive = true
    this.#ws.on('pong', () => {
      alive = true
    })
    const timer = setInterval(() => {
      if (!alive) {
        this.#ws.terminate()
        return
      }
      alive = false
      this.#ws.ping()
    }, this.#options.heartbeatMs)
    timer.unref()
    return timer
  }
}

/**
 * Runs one APPEND session: `{"type":"ready","offset":N}` first (the resource's length); then
 * data frames are stored in order, and as the storage makes them durable (fsync, a JetStream
 * acknowledgement), `{"type":"ack","offset":N}` tells the appender that the first N bytes of the
 * resource are.
 *
 * The session ends when the appender closes: the answer to its close frame waits until every
 * byte received is written and synced and the last ack sent, and is 1000 only then (1011 with the
 * reason when storing failed). A protocol violation closes with ws's code (1002, 1007, 1009)
 * after what came before it is stored; an appender that stops answering pings is dropped.
 */
export function runAppend(
  ws: SessionSocket,
  target: AppendTarget,
  options: AppendOptions,
): Promise<void> {
  return new AppendSession(ws, target, options).run()
}
