import { EventEmitter } from 'node:events'
import { RecentBytes } from '@sluice/internal/live'

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

/** The resources with an appender, by path: at most one appender each. */
export class Registry {
  readonly #reserved = new Set<string>()
  readonly #live = new Map<string, LiveResource>()
  /** Emits a path when its appender starts (what `?wait=1` followers wait for). */
  readonly #arrivals: EventEmitter = new EventEmitter().setMaxListeners(0)

  get(path: string): LiveResource | undefined {
    return this.#live.get(path)
  }

  /** Reserves `path` for an appender; false when it already has one. */
  reserve(path: string): boolean {
    if (this.#reserved.has(path)) return false
    this.#reserved.add(path)
    return true
  }

  /** Gives up a reservation that did not become a session. */
  cancel(path: string): void {
    this.#reserved.delete(path)
  }

  /** The reserved appender's file is open at `size` bytes: followers may read it. */
  activate(path: string, size: number): LiveResource {
    const resource = new LiveResource(size)
    this.#live.set(path, resource)
    this.#arrivals.emit('arrival', path)
    return resource
  }

  release(path: string, resource: LiveResource): void {
    if (this.#live.get(path) === resource) {
      this.#live.delete(path)
      this.#reserved.delete(path)
    }
    resource.finish()
  }

  /** Resolves true when an appender starts on `path`, false if `ws` closes first. */
  arrival(
    path: string,
    ws: {
      once(event: 'close', listener: () => void): unknown
      off(event: 'close', listener: () => void): unknown
    },
  ): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (arrived: boolean) => {
        this.#arrivals.off('arrival', onArrival)
        ws.off('close', onClose)
        resolve(arrived)
      }
      const onArrival = (arrived: string) => {
        if (arrived === path) done(true)
      }
      const onClose = () => done(false)
      this.#arrivals.on('arrival', onArrival)
      ws.once('close', onClose)
    })
  }
}
