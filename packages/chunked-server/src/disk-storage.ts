import { randomUUID } from 'node:crypto'
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { dirname, join } from 'node:path'
import { Writable } from 'node:stream'
import { serveFile, writeAll } from '@sluice/internal-http'
import { BlockCache } from './block-cache.js'
import type { Ingest } from './ingest.js'
import { RESERVED } from './object-key.js'
import type { ObjectMeta, PendingUpload, Storage } from './storage.js'

/**
 * Objects on disk: `<root>/<key>` holds the data of a finished object and
 * `<root>/.meta/<key>.json` its metadata, written last: an object is complete only when both
 * exist, so a crash at any point leaves nothing that looks complete. Uploads in progress live in
 * `<root>/.partial` (the file every live reader reads from) and are cleared at start.
 */
export class DiskStorage implements Storage {
  readonly root: string

  constructor(root: string) {
    this.root = root
  }

  async init(): Promise<void> {
    await rm(join(this.root, RESERVED[0]), { recursive: true, force: true })
    await mkdir(join(this.root, RESERVED[0]), { recursive: true })
    await mkdir(join(this.root, RESERVED[1]), { recursive: true })
  }

  #dataPath(key: string): string {
    return join(this.root, key)
  }

  #metaPath(key: string): string {
    return join(this.root, RESERVED[1], `${key}.json`)
  }

  async prepareKey(key: string): Promise<boolean> {
    const path = this.#dataPath(key)
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

  async begin(ingest: Ingest): Promise<PendingUpload> {
    const path = join(this.root, RESERVED[0], randomUUID())
    const file = await open(path, 'wx', 0o644)
    let closed = false
    const close = async () => {
      if (closed) return
      closed = true
      await file.close()
    }
    const cache = new BlockCache(path)
    ingest.openReader = async () => cache.acquire(() => ingest.written)
    const sink = new Writable({
      highWaterMark: 64 * 1024,
      writev: (chunks, callback) => {
        const buffers = chunks.map((entry) => entry.chunk as Buffer)
        writeAll(file, buffers).then(() => {
          ingest.advance(buffers)
          callback()
        }, callback)
      },
    })
    return {
      sink,
      commit: async (meta) => {
        await file.sync()
        await close()
        await cache.end()
        const key = ingest.key
        const metaPath = this.#metaPath(key)
        await rm(metaPath, { force: true })
        await rename(path, this.#dataPath(key))
        const temp = `${metaPath}.${randomUUID()}.tmp`
        await writeFile(temp, JSON.stringify(meta))
        await rename(temp, metaPath)
      },
      discard: async () => {
        await close().catch(() => {})
        await cache.end()
        await rm(path, { force: true })
      },
    }
  }

  async meta(key: string): Promise<ObjectMeta | undefined> {
    try {
      return JSON.parse(await readFile(this.#metaPath(key), 'utf8')) as ObjectMeta
    } catch {
      return undefined
    }
  }

  serve(
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    meta: ObjectMeta,
  ): Promise<boolean> {
    const { 'content-type': contentType, ...headers } = meta.headers
    return serveFile(req, res, this.#dataPath(key), {
      etag: meta.etag,
      ...(contentType === undefined ? {} : { contentType }),
      headers,
    })
  }

  async delete(key: string): Promise<boolean> {
    if ((await this.meta(key)) === undefined) return false
    await rm(this.#metaPath(key), { force: true })
    await rm(this.#dataPath(key), { force: true })
    return true
  }
}
