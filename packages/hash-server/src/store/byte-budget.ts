/**
 * Bytes that many uploads share (buffered parts): `take` waits, first come first served, until
 * the bytes are free. A single taking larger than the whole budget takes all of it.
 */
export class ByteBudget {
  readonly capacity: number
  #free: number
  readonly #waiting: Array<{ bytes: number; grant(): void }> = []

  constructor(capacity: number) {
    this.capacity = capacity
    this.#free = capacity
  }

  /** Bytes not taken. */
  get free(): number {
    return this.#free
  }

  /**
   * Resolves with the bytes taken (at most the capacity) once they are free; rejects with the
   * signal's reason when it aborts first. Give them back with `give`.
   */
  take(bytes: number, signal: AbortSignal): Promise<number> {
    const wanted = Math.min(bytes, this.capacity)
    signal.throwIfAborted()
    if (this.#waiting.length === 0 && wanted <= this.#free) {
      this.#free -= wanted
      return Promise.resolve(wanted)
    }
    return new Promise((resolve, reject) => {
      const entry = {
        bytes: wanted,
        grant: () => {
          signal.removeEventListener('abort', onAbort)
          resolve(wanted)
        },
      }
      const onAbort = () => {
        this.#waiting.splice(this.#waiting.indexOf(entry), 1)
        reject(signal.reason)
        this.#grant()
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#waiting.push(entry)
    })
  }

  give(bytes: number): void {
    this.#free += bytes
    this.#grant()
  }

  #grant(): void {
    for (let next = this.#waiting[0]; next && next.bytes <= this.#free; next = this.#waiting[0]) {
      this.#waiting.shift()
      this.#free -= next.bytes
      next.grant()
    }
  }
}
