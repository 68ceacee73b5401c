/** One holder of an upload's lock: what ends it early, and how it lets go. */
export interface LockHold {
  /** What a later request calls to end this one early (a PATCH destroys its request). */
  onPreempt(cancel: () => void): void
  release(): void
}

/**
 * One request at a time on an upload. A request that wants the upload ends the one holding it
 * (a PATCH still sending, perhaps from a client that has long given up) and waits until it has
 * let go, so that the offset and digest state it left behind are settled: the latest request
 * wins, as with tus servers' lockers.
 */
export class UploadLock {
  #holder: { cancel: () => void; released: Promise<void> } | undefined

  get held(): boolean {
    return this.#holder !== undefined
  }

  async acquire(): Promise<LockHold> {
    while (this.#holder) {
      const holder = this.#holder
      holder.cancel()
      await holder.released
    }
    let release = () => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const holder = { cancel: () => {}, released }
    this.#holder = holder
    return {
      onPreempt: (cancel) => {
        holder.cancel = cancel
      },
      release: () => {
        if (this.#holder === holder) this.#holder = undefined
        release()
      },
    }
  }
}
