import { EventEmitter } from 'node:events'

/** Reads the bytes of an object while it is being stored, at any position. */
export interface ByteReader {
  /** Up to `length` bytes from `position` (fewer only at the end of what is stored). */
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

  /** `length` more bytes are stored. */
  advance(length: number): void {
    this.written += length
    this.emit('data')
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
