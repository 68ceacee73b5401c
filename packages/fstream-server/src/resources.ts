import { EventEmitter } from 'node:events'
import { RecentBytes } from '@sluice/internal-http'

/** Bytes of the newest appended data kept in memory for caught-up followers. */
const RECENT_BYTES = 2 * 1024 * 1024

/**
 * What the server knows of a resource being appended to. `size` is how many bytes are in the
 * file (followers may read up to it). Events: `data` (more bytes), `end` (the appender left).
 */
export class LiveResource extends EventEmitter {
  size: number
  appending = true
  readonly #recent: RecentBytes

  constructor(size: number) {
    super()
    this.size = size
    this.#recent = new RecentBytes(RECENT_BYTES, size)
    this.setMaxListeners(0)
  }

  /** `chunks` are written to the file, after what was there. */
  grow(chunks: readonly Buffer[]): void {
    this.#recent.push(chunks)
    this.size = this.#recent.end
    this.emit('data')
  }

  /**
   * Up to `length` bytes at `position` from memory (the newest appended data, as received), or
   * undefined when they are older: then they are read from the file.
   */
  recent(position: number, length: number): Buffer | undefined {
    return this.#recent.read(position, length)
  }

  finish(): void {
    this.appending = false
    this.emit('end')
  }
}

/** The resources with an appender, by file path: at most one appender each. */
export class Registry {
  readonly #live = new Map<string, LiveResource>()
  /** Emits a path when an appender claims it (what `?wait=1` followers wait for). */
  readonly arrivals: EventEmitter = new EventEmitter().setMaxListeners(0)

  get(path: string): LiveResource | undefined {
    return this.#live.get(path)
  }

  /** Registers an appender; undefined when the resource already has one. */
  claim(path: string, size: number): LiveResource | undefined {
    if (this.#live.has(path)) return undefined
    const resource = new LiveResource(size)
    this.#live.set(path, resource)
    return resource
  }

  /** The appender's file exists now: followers waiting for it may open it. */
  announce(path: string): void {
    this.arrivals.emit('claimed', path)
  }

  release(path: string, resource: LiveResource): void {
    if (this.#live.get(path) === resource) this.#live.delete(path)
    resource.finish()
  }
}
