import { EventEmitter } from 'node:events'
import { RecentBytes } from './recent-bytes.js'

/** Where bytes that are still arriving stand. */
export type LiveState = 'receiving' | 'complete' | 'aborted'

export interface LiveBytesOptions {
  /** Bytes already stored before the first push (an fstream resource's length). Default 0. */
  readonly start?: number
  /** Newest bytes kept in memory for caught-up readers (default 1 MiB). */
  readonly recentBytes?: number
}

/**
 * Bytes that are still arriving, as their readers see them: the one model behind an fstream
 * resource being appended to and a chunked-server object being uploaded. `size` is how many bytes
 * are stored (readers may read up to it); the newest are kept in memory (references to the chunks
 * as they came, no copies) so that caught-up readers cost no I/O. Readers wait on `changed()`,
 * never poll.
 */
export class LiveBytes {
  readonly #recent: RecentBytes
  readonly #events = new EventEmitter().setMaxListeners(0)
  #state: LiveState = 'receiving'
  #failure: Error | undefined

  constructor(options: LiveBytesOptions = {}) {
    this.#recent = new RecentBytes(options.recentBytes ?? 1024 * 1024, options.start ?? 0)
  }

  /** Bytes that are already complete, for readers that follow something nobody writes to. */
  static finished(size: number): LiveBytes {
    const live = new LiveBytes({ start: size, recentBytes: 0 })
    live.complete()
    return live
  }

  /** Bytes stored so far: readers may read up to here. */
  get size(): number {
    return this.#recent.end
  }

  get state(): LiveState {
    return this.#state
  }

  /** Why it was aborted. */
  get failure(): Error | undefined {
    return this.#failure
  }

  /** These chunks are stored, in order, after what was there. */
  push(chunks: readonly Buffer[]): void {
    if (this.#state !== 'receiving') throw new Error(`cannot push to ${this.#state} bytes`)
    this.#recent.push(chunks)
    this.#events.emit('change')
  }

  /** Up to `length` bytes at `position` from memory, or undefined when they are older. */
  recent(position: number, length: number): Buffer | undefined {
    return this.#recent.read(position, length)
  }

  /** No more bytes will come: readers end once they have read `size` bytes. */
  complete(): void {
    if (this.#state !== 'receiving') return
    this.#state = 'complete'
    this.#events.emit('change')
  }

  /** The bytes will never be whole: readers fail with `error`. */
  abort(error: Error): void {
    if (this.#state !== 'receiving') return
    this.#state = 'aborted'
    this.#failure = error
    this.#events.emit('change')
  }

  /** Resolves on the next change (more bytes, complete, aborted), or at once if it is over. */
  changed(): Promise<void> {
    if (this.#state !== 'receiving') return Promise.resolve()
    return new Promise((resolve) => this.#events.once('change', resolve))
  }

  /** Wakes every reader waiting for a change (one of them has been told to stop). */
  wake(): void {
    this.#events.emit('change')
  }
}
