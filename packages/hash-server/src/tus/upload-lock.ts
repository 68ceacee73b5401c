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

  /**
   * Waits for the upload, ending whoever holds it; resolves with the release.
   * @param cancel how a later request ends this one early (a PATCH destroys its request); it
   *   holds from the moment the lock is taken, before this promise settles
   */
  async acquire(cancel: () => void = () => {}): Promise<() => void> {
    while (this.#holder) {
      const holder = this.#holder
      holder.cancel()
      await holder.released
    }
    let release = () => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const holder = { cancel, released }
    this.#holder = holder
    return () => {
      if (this.#holder === holder) this.#holder = undefined
      release()
    }
  }
}
