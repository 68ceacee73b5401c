import { Arrivals, LiveBytes } from '@sluice/internal/live'

/** Bytes of the newest appended data kept in memory for caught-up followers. */
const RECENT_BYTES = 2 * 1024 * 1024

/**
 * The resources of one server being appended to, by path: at most one appender each. A
 * resource's bytes are a {@link LiveBytes} that outlives an appender that broke off (its followers
 * wait for the next one, which goes on with the same bytes); it completes when an appender
 * finishes, and is aborted (its followers fail) when the resource is deleted.
 */
export class LiveResources {
  readonly #reserved = new Set<string>()
  readonly #live = new Map<string, LiveBytes>()
  /** Aborted with the reason when the resource is taken from its appender (deleted). */
  readonly #lost = new Map<string, AbortController>()
  readonly #arrivals = new Arrivals()

  /** How many resources have an appender now. */
  get appendingCount(): number {
    return this.#reserved.size
  }

  /** The resource's live bytes while an appender is active, or broke off and may come back. */
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
  activate(path: string, size: number): { live: LiveBytes; lost: AbortSignal } {
    const waiting = this.#live.get(path)
    const live =
      waiting?.size === size ? waiting : new LiveBytes({ start: size, recentBytes: RECENT_BYTES })
    // Bytes whose length no longer matches the file (changed behind our back) end their followers.
    if (waiting !== undefined && waiting !== live) waiting.complete()
    const lost = new AbortController()
    this.#live.set(path, live)
    this.#lost.set(path, lost)
    this.#arrivals.announce(path)
    return { live, lost: lost.signal }
  }

  /** The resource is gone: its appender is told, its followers fail with `reason`. */
  remove(path: string, reason: Error): void {
    this.#lost.get(path)?.abort(reason)
    this.#live.get(path)?.abort(reason)
    this.#live.delete(path)
  }

  /**
   * The appender left. `complete`: it finished, and its followers end once they have everything;
   * else they wait for the next appender.
   */
  release(path: string, live: LiveBytes, complete: boolean): void {
    // The path stays reserved until its appender leaves, even once deleted.
    this.#lost.delete(path)
    this.#reserved.delete(path)
    if (!complete || this.#live.get(path) !== live) return
    this.#live.delete(path)
    live.complete()
  }

  /** Resolves true when an appender starts on `path`, false if `signal` aborts first. */
  async arrival(path: string, signal: AbortSignal): Promise<boolean> {
    return (await this.#arrivals.waitFor(path, { signal })) === 'arrived'
  }
}
