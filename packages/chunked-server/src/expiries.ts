/** `max-age` of a Cache-Control value, in seconds. */
export function maxAge(cacheControl: string | undefined): number | undefined {
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(cacheControl ?? '')
  return match ? Number(match[1]) : undefined
}

/** Timers that delete objects when their `max-age` runs out (`expire`). */
export class Expiries {
  readonly #timers = new Map<string, NodeJS.Timeout>()

  /** Calls `expire` at `expiresAt` (ms since the epoch), replacing the key's earlier timer. */
  schedule(key: string, expiresAt: number | undefined, expire: () => void): void {
    this.cancel(key)
    if (expiresAt === undefined) return
    const timer = setTimeout(
      () => {
        this.#timers.delete(key)
        expire()
      },
      Math.max(0, expiresAt - Date.now()),
    )
    timer.unref()
    this.#timers.set(key, timer)
  }

  cancel(key: string): void {
    clearTimeout(this.#timers.get(key))
    this.#timers.delete(key)
  }

  clear(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer)
    this.#timers.clear()
  }
}
