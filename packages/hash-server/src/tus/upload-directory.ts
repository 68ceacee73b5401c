import { constants } from 'node:fs'
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
} from 'node:fs/promises'
import { join } from 'node:path'
import { prepareTempDirectory, writeFileAtomically } from '@sluice/internal/fs'

/** What is known of an upload besides its bytes: written whole (atomically) at each change. */
export interface UploadRecord {
  readonly id: string
  /** `Upload-Length`, once known (creation-defer-length leaves it out at first). */
  length?: number
  /** The `Upload-Metadata` header as the client sent it (echoed by HEAD). */
  readonly metadata: string | undefined
  /** Algorithms computed over the whole upload, the first one naming the stored object. */
  readonly algorithms: readonly string[]
  /** Digests of the whole upload the client declared at creation: `{ header, key, algorithm, base64 }`. */
  readonly declared: readonly DeclaredDigest[]
  /** `receiving` bytes; `done` (digests checked, stored); `gone` (terminated or refused). */
  state: 'receiving' | 'done' | 'gone'
  /** Hex digests once done. */
  digests?: Record<string, string>
  /** The stored object's path once done, when there is a store. */
  location?: string
  /** Why it is gone. */
  reason?: string
  /** Last activity (creation, a PATCH, completion), ms since the epoch: expiry counts from it. */
  touchedAt: number
  /**
   * Set while an all-or-nothing PATCH (with a checksum) is being received: the offset it started
   * at, where the data file is cut back to if the process stops before the check.
   */
  checkingFrom?: number
}

/** A declared digest as persisted. */
export interface DeclaredDigest {
  readonly header: 'repr-digest'
  readonly key: string
  readonly algorithm: string
  readonly base64: string
}

/** An upload read back from the directory, with the bytes its data file holds. */
export interface StoredUpload {
  readonly record: UploadRecord
  readonly size: number
  /** When its data file was last written, ms since the epoch (0 without one). */
  readonly modifiedAt: number
}

const ID = /^[0-9a-f]{32}$/
const TEMP_DIR = '.tmp'

/** Whether `id` can name an upload (anything else is not looked up at all). */
export function isUploadId(id: string): boolean {
  return ID.test(id)
}

/**
 * The directory of uploads in progress: `<id>.json` (the record, replaced atomically) and
 * `<id>.bin` (the bytes received so far, whose size is the upload's offset).
 */
export class UploadDirectory {
  readonly path: string
  #temp = ''

  constructor(path: string) {
    this.path = path
  }

  /** Creates the directory (and its temporary one) and checks it can be written. */
  async init(): Promise<void> {
    await mkdir(this.path, { recursive: true })
    this.#temp = await prepareTempDirectory(this.path, TEMP_DIR)
  }

  dataPath(id: string): string {
    return join(this.path, `${id}.bin`)
  }

  /** Creates the upload's empty data file, then its record. */
  async create(record: UploadRecord): Promise<void> {
    const file = await open(this.dataPath(record.id), 'wx', 0o644)
    await file.close()
    await this.save(record)
  }

  async save(record: UploadRecord): Promise<void> {
    await writeFileAtomically(this.#temp, this.path, `${record.id}.json`, JSON.stringify(record))
  }

  /** Opens the data file for positional reads and writes (created again if it went missing). */
  openData(id: string): Promise<FileHandle> {
    return open(this.dataPath(id), constants.O_RDWR | constants.O_CREAT, 0o644)
  }

  /** Removes the data file (the record stays, as a done or gone upload's answer). */
  async removeData(id: string): Promise<void> {
    await rm(this.dataPath(id), { force: true })
  }

  async remove(id: string): Promise<void> {
    await rm(join(this.path, `${id}.json`), { force: true })
    await this.removeData(id)
  }

  /**
   * Every upload of the directory, as left by an earlier process: its record, and the size of its
   * data file (the bytes kept). Data files without a record (a crash between the two) are removed;
   * a record that cannot be read is reported to `onError` and left alone.
   */
  async load(onError: (error: Error) => void): Promise<StoredUpload[]> {
    const entries = await readdir(this.path)
    const uploads: StoredUpload[] = []
    for (const entry of entries) {
      const match = /^([0-9a-f]{32})\.(json|bin)$/.exec(entry)
      const id = match?.[1]
      if (id === undefined) continue
      if (match?.[2] === 'bin') {
        if (!entries.includes(`${id}.json`)) await rm(join(this.path, entry), { force: true })
        continue
      }
      try {
        const record = JSON.parse(await readFile(join(this.path, entry), 'utf8')) as UploadRecord
        const data = await stat(this.dataPath(id)).catch(() => undefined)
        let size = data?.size ?? 0
        if (record.checkingFrom !== undefined && size > record.checkingFrom) {
          // Stopped in the middle of an all-or-nothing PATCH: its bytes were never verified.
          await truncate(this.dataPath(id), record.checkingFrom)
          size = record.checkingFrom
        }
        delete record.checkingFrom
        uploads.push({ record, size, modifiedAt: data?.mtimeMs ?? 0 })
      } catch (error) {
        onError(new Error(`tus upload ${id}: cannot read its record`, { cause: error }))
      }
    }
    return uploads
  }
}
