import type { FileHandle } from 'node:fs/promises'
import { writeAll } from '@sluice/internal/fs'
import { CLOSE } from '@sluice/internal/fstream'
import type { LiveBytes } from '@sluice/internal/live'
import type { Framing } from './framing.js'
import type { SessionSocket } from './session-socket.js'

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

/**
 * One APPEND session. Data frames are appended in order; durability runs beside the writes:
 * each fsync covers everything written before it started, so acknowledgements come as often as
 * the disk allows without slowing the writes down.
 */
class AppendSession {
  readonly #ws: SessionSocket
  readonly #file: FileHandle
  readonly #live: LiveBytes
  readonly #options: AppendOptions
  #pending: Buffer[] = []
  #pendingBytes = 0
  #writing: Promise<void> | undefined
  #syncing: Promise<void> | undefined
  #durable: number
  /** Storing failed: 1011. */
  #failure: Error | undefined
  /** ws found a protocol violation: its code. */
  #violation: Error | undefined
  /** The session refused data (1003, 1009): no more is taken. */
  #refusal: { readonly code: number; readonly reason: string } | undefined
  #ended: Promise<void> | undefined

  constructor(ws: SessionSocket, file: FileHandle, live: LiveBytes, options: AppendOptions) {
    this.#ws = ws
    this.#file = file
    this.#live = live
    this.#options = options
    this.#durable = live.size
  }

  /** Resolves once the session is over: everything received stored, the file closed. */
  run(): Promise<void> {
    const ws = this.#ws
    // The server logs it; the close reply needs to know it.
    ws.on('error', (error: Error) => {
      this.#violation = error
    })
    const heartbeat = this.#heartbeat()
    return new Promise((resolve) => {
      // The resource is free for the next appender before the close reply says so.
      const end = () => {
        this.#ended ??= this.#settled()
          .then(() => this.#file.close())
          .catch(() => {})
          .finally(() => {
            clearInterval(heartbeat)
            resolve()
          })
        return this.#ended
      }
      ws.holdCloseReply(async (code) => {
        await end()
        return this.#closeReply(code)
      })
      ws.once('close', () => void end())
      // Where this session starts: a client that did not ask for an offset learns it here.
      this.#options.framing.control(ws, { type: 'ready', offset: this.#live.size })
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
    if (this.#live.size + this.#pendingBytes + data.length > maxSize) {
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
      await writeAll(this.#file, batch)
      this.#live.push(batch)
      this.#options.stored?.(batch.reduce((sum, chunk) => sum + chunk.length, 0))
      // Runs beside the next writes; its failure is handled where it happens.
      void this.#sync()
      if (this.#ws.isPaused && this.#pendingBytes < PAUSE_AT) this.#ws.resume()
    }
  }

  #sync(): Promise<void> {
    this.#syncing ??= (async () => {
      while (this.#durable < this.#live.size && !this.#failure) {
        const target = this.#live.size
        await this.#file.datasync()
        this.#durable = target
        if (this.#ws.readyState === this.#ws.OPEN) {
          this.#options.framing.control(this.#ws, { type: 'ack', offset: target })
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
    while (!this.#failure && (this.#syncing !== undefined || this.#durable < this.#live.size)) {
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
 * data frames are appended in order, and as fsyncs complete, `{"type":"ack","offset":N}` tells
 * the appender that the first N bytes of the resource are durable.
 *
 * The session ends when the appender closes: the answer to its close frame waits until every
 * byte received is written and synced and the last ack sent, and is 1000 only then (1011 with the
 * reason when storing failed). A protocol violation closes with ws's code (1002, 1007, 1009)
 * after what came before it is stored; an appender that stops answering pings is dropped.
 */
export function runAppend(
  ws: SessionSocket,
  file: FileHandle,
  live: LiveBytes,
  options: AppendOptions,
): Promise<void> {
  return new AppendSession(ws, file, live, options).run()
}
