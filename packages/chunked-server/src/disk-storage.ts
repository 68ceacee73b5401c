import { constants } from 'node:fs'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import {
  checkDirectoriesBeneath,
  createTempFile,
  lstatBeneath,
  openBeneath,
  prepareTempDirectory,
  writeAll,
  writeFileAtomically,
} from '@sluice/internal/fs'
import { fileEtag, fileRepresentation } from '@sluice/internal/http'
import { BlockCache } from './block-cache.js'
import { contentTypeOf } from './content-type.js'
import { RESERVED } from './object-key.js'
import {
  answerOptions,
  type ObjectMeta,
  type PendingUpload,
  type Storage,
  type StoredObject,
} from './storage.js'

const [PARTIAL, META] = RESERVED

/**
 * Objects on disk: `<root>/<key>` holds the data of a finished object and
 * `<root>/.meta/<key>.json` its metadata, written last: an object is complete only when both
 * exist. A crash at any point leaves no partial data in place: the data is renamed there only
 * once the whole upload is written; a crash between that rename and the metadata leaves it served
 * like a file placed there by other means (its bytes whole, its headers from its extension). Uploads in progress live in
 * `<root>/.partial` (the file every live reader reads from) and are cleared at start. Symbolic
 * links below the root are never followed: not to store, not to serve, not to delete.
 */
export class DiskStorage implements Storage {
  readonly root: string
  #partial: string

  constructor(root: string) {
    this.root = root
    this.#partial = join(root, PARTIAL)
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true })
    this.#partial = await prepareTempDirectory(this.root, PARTIAL)
    await checkDirectoriesBeneath(this.root, `${META}/probe`, true)
  }

  #metaPath(key: string): string {
    return `${META}${key}.json`
  }

  async prepareKey(key: string): Promise<'ok' | 'conflict' | 'symlink'> {
    try {
      await checkDirectoriesBeneath(this.root, key.slice(1), true)
      await checkDirectoriesBeneath(this.root, this.#metaPath(key), true)
      const existing = await lstatBeneath(this.root, key.slice(1))
      if (existing?.isSymbolicLink()) return 'symlink'
      return existing === undefined || existing.isFile() ? 'ok' : 'conflict'
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ELOOP') return 'symlink'
      if (code === 'ENOTDIR' || code === 'EEXIST') return 'conflict'
      throw error
    }
  }

  async begin(key: string): Promise<PendingUpload> {
    const temp = await createTempFile(this.#partial)
    const cache = new BlockCache(temp.path)
    return {
      write: (chunks) => writeAll(temp.file, chunks),
      openReader: (stored) => cache.acquire(stored),
      commit: async (meta) => {
        await cache.end()
        await rm(join(this.root, this.#metaPath(key)), { force: true })
        await temp.commit(this.root, key.slice(1))
        await writeFileAtomically(
          this.#partial,
          this.root,
          this.#metaPath(key),
          JSON.stringify(meta),
        )
      },
      discard: async () => {
        await temp.discard()
        await cache.end()
      },
    }
  }

  async meta(key: string): Promise<ObjectMeta | undefined> {
    let text: string
    try {
      const file = await openBeneath(this.root, this.#metaPath(key), constants.O_RDONLY)
      try {
        text = await readFile(file, 'utf8')
      } finally {
        await file.close()
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // No metadata at all: a file placed there by other means, if any. Any other failure to
      // read it is not taken for that (an object served without its headers and expiry).
      if (code === 'ENOENT' || code === 'ENOTDIR') return this.#placedFile(key)
      return undefined
    }
    try {
      return JSON.parse(text) as ObjectMeta
    } catch {
      return undefined
    }
  }

  /**
   * A regular file put under the root by other means (copied in, left by an older version): no
   * upload described it, so it is served as it is, its type from its extension, as any static
   * origin would.
   */
  async #placedFile(key: string): Promise<ObjectMeta | undefined> {
    const info = await lstatBeneath(this.root, key.slice(1)).catch(() => undefined)
    if (!info?.isFile()) return undefined
    const type = contentTypeOf(key)
    return {
      size: info.size,
      etag: fileEtag(info.size, info.mtime),
      headers: type === undefined ? {} : { 'content-type': type },
    }
  }

  async open(key: string, meta: ObjectMeta): Promise<StoredObject | 'missing' | 'symlink'> {
    const object = await fileRepresentation(this.root, key.slice(1), answerOptions(meta))
    return object === 'not-a-file' ? 'missing' : object
  }

  async delete(key: string): Promise<boolean> {
    if ((await this.meta(key)) === undefined) return false
    const data = await lstatBeneath(this.root, key.slice(1)).catch(() => undefined)
    await rm(join(this.root, this.#metaPath(key)), { force: true })
    // A link where the data should be is removed as a link, never followed.
    if (data !== undefined) await rm(join(this.root, key), { force: true })
    return true
  }
}
