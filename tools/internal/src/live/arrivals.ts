import { EventEmitter } from 'node:events'

export interface WaitOptions {
  /** Gives up after this long (default: never). */
  readonly timeoutMs?: number
  /** Gives up when it aborts. */
  readonly signal?: AbortSignal
}

/**
 * Things that appear by key (a resource's first appender, an object's upload): readers that came
 * too early wait for them on events, never polling.
 */
export class Arrivals {
  readonly #events = new EventEmitter().setMaxListeners(0)

  /** `key` has appeared: its waiters go on. */
  announce(key: string): void {
    this.#events.emit(key)
  }

  /** Every key waited for is announced: its waiters go on (and find out why). */
  announceAll(): void {
    for (const key of this.#events.eventNames()) this.#events.emit(key)
  }

  /** Resolves 'arrived' when `key` is announced, else 'timeout' or 'aborted'. */
  waitFor(key: string, options: WaitOptions = {}): Promise<'arrived' | 'timeout' | 'aborted'> {
    const { signal, timeoutMs } = options
    if (signal?.aborted) return Promise.resolve('aborted')
    return new Promise((resolve) => {
      const done = (outcome: 'arrived' | 'timeout' | 'aborted') => {
        clearTimeout(timer)
        this.#events.off(key, onArrival)
        signal?.removeEventListener('abort', onAbort)
        resolve(outcome)
      }
      const onArrival = () => done('arrived')
      const onAbort = () => done('aborted')
      const timer =
        timeoutMs === undefined ? undefined : setTimeout(() => done('timeout'), timeoutMs)
      this.#events.on(key, onArrival)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}
