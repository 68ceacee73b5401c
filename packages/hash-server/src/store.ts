import { randomUUID } from 'node:crypto'
import { type FileHandle, mkdir, open, readdir, rename, rm } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { serveFile } from '@sluice/internal-http'

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
  serve(
    req: IncomingMessage,
    res: ServerResponse,
    algorithm: string,
    hex: string,
  ): Promise<boolean> {
    return serveFile(req, res, join(this.root, algorithm, hex), {
      etag: `"${algorithm}-${hex}"`,
      headers: { 'Cache-Control': 'public, max-age=31536000, immutable' },
    })
  }
}
