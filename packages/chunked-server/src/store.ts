import { randomUUID } from 'node:crypto'
import {
  type FileHandle,
  mkdir,
  open,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { RESERVED } from './object-key.js'

/** What is kept beside a finished object and replayed to its readers. */
export interface ObjectMeta {
  readonly size: number
  readonly headers: Readonly<Record<string, string>>
  readonly etag: string
  /** When the object expires (ms since the epoch), with `expire` and a `max-age`. */
  readonly expiresAt?: number
}

/**
 * Objects on disk: `<root>/<key>` holds the data of a finished object and
 * `<root>/.meta/<key>.json` its metadata, written last: an object is complete only when both
 * exist, so a crash at any point leaves nothing that looks complete. Uploads in progress live in
 * `<root>/.partial` and are cleared at start.
 */
export class ObjectStore {
  readonly root: string

  constructor(root: string) {
    this.root = root
  }

  async init(): Promise<void> {
    await rm(join(this.root, RESERVED[0]), { recursive: true, force: true })
    await mkdir(join(this.root, RESERVED[0]), { recursive: true })
    await mkdir(join(this.root, RESERVED[1]), { recursive: true })
  }

  dataPath(key: string): string {
    return join(this.root, key)
  }

  #metaPath(key: string): string {
    return join(this.root, RESERVED[1], `${key}.json`)
  }

  /** A new file for an upload in progress. */
  async createPartial(): Promise<{ path: string; file: FileHandle }> {
    const path = join(this.root, RESERVED[0], randomUUID())
    return { path, file: await open(path, 'wx', 0o644) }
  }

  async removePartial(path: string): Promise<void> {
    await rm(path, { force: true })
  }

  /**
   * Checks that `key` can hold an object: no existing directory at its path, no file where one of
   * its parent directories must be. Creates the parents. Resolves false on a conflict.
   */
  async prepareKey(key: string): Promise<boolean> {
    const path = this.dataPath(key)
    try {
      await mkdir(dirname(path), { recursive: true })
      await mkdir(dirname(this.#metaPath(key)), { recursive: true })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOTDIR' || code === 'EEXIST') return false
      throw error
    }
    const existing = await stat(path).catch(() => undefined)
    return existing === undefined || existing.isFile()
  }

  /** Makes a finished upload the object at `key` (replacing any previous one). */
  async commit(key: string, partialPath: string, meta: ObjectMeta): Promise<void> {
    const metaPath = this.#metaPath(key)
    await rm(metaPath, { force: true })
    await rename(partialPath, this.dataPath(key))
    const temp = `${metaPath}.${randomUUID()}.tmp`
    await writeFile(temp, JSON.stringify(meta))
    await rename(temp, metaPath)
  }

  /** The metadata of a finished object, or undefined. */
  async meta(key: string): Promise<ObjectMeta | undefined> {
    try {
      return JSON.parse(await readFile(this.#metaPath(key), 'utf8')) as ObjectMeta
    } catch {
      return undefined
    }
  }

  /** Deletes a finished object; resolves false if there was none. */
  async delete(key: string): Promise<boolean> {
    if ((await this.meta(key)) === undefined) return false
    await rm(this.#metaPath(key), { force: true })
    await rm(this.dataPath(key), { force: true })
    return true
  }
}
