import { EventEmitter } from 'node:events'

/**
 * What the server knows of a resource being appended to. `size` is how many bytes are in the
 * file (followers may read up to it). Events: `data` (more bytes), `end` (the appender left).
 */
export class LiveResource extends EventEmitter {
  size: number
  appending = true

  constructor(size: number) {
    super()
    this.size = size
    this.setMaxListeners(0)
  }

  grow(size: number): void {
    this.size = size
    this.emit('data')
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
