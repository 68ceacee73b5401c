import { EventEmitter } from 'node:events'

/** Bytes of the newest data each upload keeps in memory for caught-up readers. */
const TAIL_BYTES = 1024 * 1024

/** Reads the bytes of an object while it is being stored, at any position. */
export interface ByteReader {
  /** 1 to `length` bytes from `position` (none only past the end of what is stored). */
  read(position: number, length: number): Promise<Buffer>
  close(): Promise<void>
}

/**
 * An object being uploaded. `written` counts the bytes stored so far (what live readers may
 * read). Events: `data` (more bytes stored), `end` (complete and committed), `abort` (the upload
 * failed: readers must end abnormally).
 */
export class Ingest extends EventEmitter {
  readonly key: string
  /** Content headers of the upload, replayed to readers. */
  readonly headers: Readonly<Record<string, string>>
  written = 0
  state: 'receiving' | 'complete' | 'aborted' = 'receiving'
  /** Opens a reader of the stored bytes; set by the storage when the upload begins. */
  openReader: () => Promise<ByteReader> = () => Promise.reject(new Error('no storage yet'))

  constructor(key: string, headers: Record<string, string>) {
    super()
    this.key = key
    this.headers = headers
    // Readers come and go; there is no leak in having many.
    this.setMaxListeners(0)
  }

  // The newest stored bytes, kept in memory (the chunks as they came, not copies): a reader that
  // is caught up reads them from here, with no read from storage, so fan-out costs no I/O.
  readonly #tail: Buffer[] = []
  #tailStart = 0
  #tailBytes = 0

  /** These chunks are stored (in order). */
  advance(chunks: readonly Buffer[]): void {
    for (const chunk of chunks) {
      this.#tail.push(chunk)
      this.#tailBytes += chunk.length
      this.written += chunk.length
    }
    while (this.#tail.length > 1 && this.#tailBytes - (this.#tail[0]?.length ?? 0) >= TAIL_BYTES) {
      const dropped = this.#tail.shift()?.length ?? 0
      this.#tailBytes -= dropped
      this.#tailStart += dropped
    }
    this.emit('data')
  }

  /** Up to `length` bytes at `position` from the in-memory tail, or undefined if it is older. */
  readTail(position: number, length: number): Buffer | undefined {
    if (position < this.#tailStart || position >= this.written) return undefined
    let offset = this.#tailStart
    for (const chunk of this.#tail) {
      if (position < offset + chunk.length) {
        return chunk.subarray(position - offset, Math.min(chunk.length, position - offset + length))
      }
      offset += chunk.length
    }
    return undefined
  }

  complete(): void {
    this.state = 'complete'
    this.emit('end')
  }

  abort(error: Error): void {
    if (this.state !== 'receiving') return
    this.state = 'aborted'
    this.emit('abort', error)
  }
}
