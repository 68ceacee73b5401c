/** How often removals that failed are tried again, and for how long. */
const RETRY_MS = 5_000
const GIVE_UP_MS = 3_600_000

interface Removal {
  readonly run: () => Promise<void>
  readonly since: number
}

/**
 * Removals (an unfinished upload to abort, a temporary object to delete) that failed because the
 * storage could not be reached: tried again every few seconds, for an hour; what is left then is
 * for the sweep at the next start.
 */
export class CleanupQueue {
  readonly #removals = new Set<Removal>()
  #timer: NodeJS.Timeout | undefined
  #running = false

  /** Runs `run` now; if it fails, again later until it succeeds. */
  async remove(run: () => Promise<void>): Promise<void> {
    try {
      await run()
    } catch {
      this.#removals.add({ run, since: Date.now() })
      this.#timer ??= setInterval(() => void this.#retry(), RETRY_MS).unref()
    }
  }

  /** Removals still waiting. */
  get size(): number {
    return this.#removals.size
  }

  async #retry(): Promise<void> {
    if (this.#running) return
    this.#running = true
    try {
      for (const removal of [...this.#removals]) {
        const done = await removal.run().then(
          () => true,
          () => Date.now() - removal.since > GIVE_UP_MS,
        )
        if (done) this.#removals.delete(removal)
      }
    } finally {
      this.#running = false
      if (this.#removals.size === 0) this.stop()
    }
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
