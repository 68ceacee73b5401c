import { EventEmitter } from 'node:events'
import { RecentBytes } from '@sluice/internal/live'
import type { ByteReader, PendingUpload } from './storage.js'

/** Bytes of the newest data each upload keeps in memory for caught-up readers. */
const TAIL_BYTES = 1024 * 1024

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
  /** Opens a reader of the stored bytes. */
  readonly openReader: () => ByteReader

  constructor(key: string, headers: Record<string, string>, upload: PendingUpload) {
    super()
    this.key = key
    this.headers = headers
    this.openReader = () => upload.openReader(() => this.written)
    // Readers come and go; there is no leak in having many.
    this.setMaxListeners(0)
  }

  // A caught-up reader reads the newest bytes from memory: fan-out costs no I/O.
  readonly #tail = new RecentBytes(TAIL_BYTES)

  /** These chunks are stored (in order). */
  advance(chunks: readonly Buffer[]): void {
    this.#tail.push(chunks)
    this.written = this.#tail.end
    this.emit('data')
  }

  /** Up to `length` bytes at `position` from the in-memory tail, or undefined if it is older. */
  readTail(position: number, length: number): Buffer | undefined {
    return this.#tail.read(position, length)
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
