import { Arrivals, LiveBytes } from '@sluice/internal/live'

/** Bytes of the newest appended data kept in memory for caught-up followers. */
const RECENT_BYTES = 2 * 1024 * 1024

/**
 * The resources with an appender, by path: at most one appender each. An appender's resource is
 * a {@link LiveBytes}; it completes when the appender leaves.
 */
export class Registry {
  readonly #reserved = new Set<string>()
  readonly #live = new Map<string, LiveBytes>()
  readonly #arrivals = new Arrivals()

  /** How many resources have an appender now. */
  get appendingCount(): number {
    return this.#live.size
  }

  /** The resource's live bytes while an appender is active. */
  get(path: string): LiveBytes | undefined {
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
  activate(path: string, size: number): LiveBytes {
    const live = new LiveBytes({ start: size, recentBytes: RECENT_BYTES })
    this.#live.set(path, live)
    this.#arrivals.announce(path)
    return live
  }

  /** The appender left: its followers end once they have everything. */
  release(path: string, live: LiveBytes): void {
    if (this.#live.get(path) === live) {
      this.#live.delete(path)
      this.#reserved.delete(path)
    }
    live.complete()
  }

  /** Resolves true when an appender starts on `path`, false if `signal` aborts first. */
  async arrival(path: string, signal: AbortSignal): Promise<boolean> {
    return (await this.#arrivals.waitFor(path, { signal })) === 'arrived'
  }
}
