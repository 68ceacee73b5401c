/**
 * The newest bytes of a growing file, kept in memory as the chunks came (references, not copies):
 * a reader that is caught up reads them from here instead of from storage, so fan-out to many live
 * readers costs no I/O. Holds at least `limit` bytes once that much has been pushed, and at most
 * `limit` plus one chunk.
 */
export class RecentBytes {
  readonly #limit: number
  readonly #chunks: Buffer[] = []
  #start: number
  #bytes = 0

  /** `start` is the position of the first byte that will be pushed (the file's length then). */
  constructor(limit: number, start = 0) {
    this.#limit = limit
    this.#start = start
  }

  /** The position just past the newest byte pushed. */
  get end(): number {
    return this.#start + this.#bytes
  }

  /** Records `chunks` as the next bytes of the file, dropping the oldest beyond the limit. */
  push(chunks: readonly Buffer[]): void {
    for (const chunk of chunks) {
      this.#chunks.push(chunk)
      this.#bytes += chunk.length
    }
    while (this.#chunks.length > 1 && this.#bytes - (this.#chunks[0]?.length ?? 0) >= this.#limit) {
      const dropped = this.#chunks.shift()?.length ?? 0
      this.#bytes -= dropped
      this.#start += dropped
    }
  }

  /** Up to `length` bytes at `position`, or undefined when they are older than what is kept. */
  read(position: number, length: number): Buffer | undefined {
    if (position < this.#start || position >= this.end) return undefined
    let offset = this.#start
    for (const chunk of this.#chunks) {
      if (position < offset + chunk.length) {
        return chunk.subarray(position - offset, Math.min(chunk.length, position - offset + length))
      }
      offset += chunk.length
    }
    return undefined
  }
}
