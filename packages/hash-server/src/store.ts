import { randomUUID } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { parseByteRange } from './byte-range.js'

/** A body being written to the store's temp area; it becomes visible only through `commit`. */
export interface PendingObject {
  readonly file: FileHandle
  /** fsyncs, closes and renames the file to `<root>/<algorithm>/<hex>`; returns its URL path. */
  commit(algorithm: string, hex: string): Promise<string>
  /** Closes and deletes the temp file (safe to call after a failed commit, or twice). */
  discard(): Promise<void>
}

const TEMP_DIR = '.tmp'

/**
 * A content-addressed store: objects live at `<root>/<algorithm>/<hex digest>`. Bodies are written
 * to `<root>/.tmp` while they are hashed and renamed into place only when complete and verified,
 * so a reader never sees a partial object and an aborted upload leaves nothing behind.
 */
export class ContentStore {
  readonly root: string
  readonly #temp: string

  constructor(root: string) {
    this.root = root
    this.#temp = join(root, TEMP_DIR)
  }

  /** Creates the directories and removes temp files a crashed process left behind. */
  async init(): Promise<void> {
    await mkdir(this.#temp, { recursive: true })
    for (const name of await readdir(this.#temp)) {
      await rm(join(this.#temp, name), { force: true })
    }
  }

  async begin(): Promise<PendingObject> {
    const path = join(this.#temp, `${process.pid}-${randomUUID()}`)
    const file = await open(path, 'wx', 0o644)
    let closed = false
    const close = async (): Promise<void> => {
      if (closed) return
      closed = true
      await file.close()
    }
    return {
      file,
      commit: async (algorithm, hex) => {
        await file.sync()
        await close()
        const dir = join(this.root, algorithm)
        await mkdir(dir, { recursive: true })
        await rename(path, join(dir, hex))
        return `/${algorithm}/${hex}`
      },
      discard: async () => {
        await close().catch(() => {})
        await rm(path, { force: true })
      },
    }
  }

  /**
   * Serves `<root>/<algorithm>/<hex>` with ETag (the digest), Range and HEAD. Resolves false, having
   * written nothing, when there is no such object.
   */
  async serve(
    req: IncomingMessage,
    res: ServerResponse,
    algorithm: string,
    hex: string,
  ): Promise<boolean> {
    const path = join(this.root, algorithm, hex)
    let size: number
    try {
      const info = await stat(path)
      if (!info.isFile()) return false
      size = info.size
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw error
    }
    const etag = `"${algorithm}-${hex}"`
    res.setHeader('ETag', etag)
    res.setHeader('Accept-Ranges', 'bytes')
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable')
    res.setHeader('Content-Type', 'application/octet-stream')
    const ifNoneMatch = req.headers['if-none-match']
    if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((tag) => tag.trim() === etag)) {
      res.writeHead(304).end()
      return true
    }
    const range = parseByteRange(req.headers.range, size)
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end()
      return true
    }
    const start = range?.start ?? 0
    const end = range?.end ?? size - 1
    res.statusCode = range === undefined ? 200 : 206
    if (range !== undefined) res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`)
    res.setHeader('Content-Length', end - start + 1)
    if (req.method === 'HEAD' || end < start) {
      res.end()
      return true
    }
    await pipeline(createReadStream(path, { start, end }), res)
    return true
  }
}
