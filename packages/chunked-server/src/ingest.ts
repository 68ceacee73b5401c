import { EventEmitter } from 'node:events'
import type { FileHandle } from 'node:fs/promises'
import { Writable } from 'node:stream'
import { writeAll } from '@sluice/internal-http'

/**
 * An object being uploaded. Its bytes go to a file (the buffer every live reader reads from);
 * `written` is how many are on disk. Events: `data` (more bytes written), `end` (complete and
 * committed), `abort` (the upload failed: readers must end abnormally).
 */
export class Ingest extends EventEmitter {
  readonly key: string
  readonly partialPath: string
  /** Content headers of the upload, replayed to readers. */
  readonly headers: Readonly<Record<string, string>>
  written = 0
  state: 'receiving' | 'complete' | 'aborted' = 'receiving'

  constructor(key: string, partialPath: string, headers: Record<string, string>) {
    super()
    this.key = key
    this.partialPath = partialPath
    this.headers = headers
    // Readers come and go; there is no leak in having many.
    this.setMaxListeners(0)
  }

  /** A Writable that appends to `file` and announces every chunk once it is written. */
  sink(file: FileHandle): Writable {
    return new Writable({
      highWaterMark: 64 * 1024,
      writev: (chunks, callback) => {
        const buffers = chunks.map((entry) => entry.chunk as Buffer)
        const length = buffers.reduce((sum, chunk) => sum + chunk.length, 0)
        writeAll(file, buffers).then(() => {
          this.written += length
          this.emit('data')
          callback()
        }, callback)
      },
    })
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
