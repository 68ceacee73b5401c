/** A write of a key, numbered in the order the writes started. */
export interface OrderedWrite {
  readonly order: number
}

/**
 * The writes of one key while any is under way. Uploads of a key may overlap (packagers re-PUT a
 * playlist without waiting for the answer to the previous PUT); the write that started last wins,
 * whatever the order in which they finish. This holds the uploads still running, oldest first,
 * the order of the newest write that took effect (an upload stored, or a DELETE), and a queue
 * that applies the changes to the stored object (commit, discard, delete) one at a time, in the
 * order they were asked for.
 */
export class KeyWrites<T extends OrderedWrite> {
  readonly running: T[] = []
  /** Order of the newest write that took effect: an upload that started before it is never stored. */
  settled = 0
  /** Uploads whose storage is being set up: they are added once it is. */
  starting = 0
  #queue: Promise<void> = Promise.resolve()
  #queued = 0

  add(upload: T): void {
    let at = this.running.length
    while (at > 0 && (this.running[at - 1] as T).order > upload.order) at--
    this.running.splice(at, 0, upload)
  }

  /** False when `upload` was not running (it ended already). */
  remove(upload: T): boolean {
    const at = this.running.indexOf(upload)
    if (at === -1) return false
    this.running.splice(at, 1)
    return true
  }

  /** The upload that readers of the key follow: the newest running, unless a later write won. */
  get newest(): T | undefined {
    const last = this.running.at(-1)
    return last !== undefined && last.order > this.settled ? last : undefined
  }

  /** Runs `change` once every change asked for before it has run. */
  async inTurn<R>(change: () => Promise<R>): Promise<R> {
    this.#queued++
    const previous = this.#queue
    let done = () => {}
    this.#queue = new Promise((resolve) => {
      done = resolve
    })
    try {
      await previous
      return await change()
    } finally {
      this.#queued--
      done()
    }
  }

  /** Nothing running, starting or queued: the record can go. */
  get idle(): boolean {
    return this.running.length === 0 && this.starting === 0 && this.#queued === 0
  }
}
