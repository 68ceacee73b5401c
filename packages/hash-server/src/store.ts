import { createHash } from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createTempFile, prepareTempDirectory } from '@sluice/internal/fs'
import { serveFile, type UnservableReason } from '@sluice/internal/http'

/** A body being written to the store's temp area; it becomes visible only through `commit`. */
export interface PendingObject {
  readonly file: FileHandle
  /** fsyncs, closes and renames the file to `<root>/<algorithm>/<hex>`; returns its URL path. */
  commit(algorithm: string, hex: string): Promise<string>
  /** Closes and deletes the temp file (safe to call after a failed commit, or twice). */
  discard(): Promise<void>
}

const TEMP_DIR = '.tmp'

/** Hex digest length per algorithm: a name of any other length cannot be in the store. */
const hexLengths = new Map<string, number>()
function hexLength(algorithm: string): number {
  let length = hexLengths.get(algorithm)
  if (length === undefined) {
    length = createHash(algorithm).digest().length * 2
    hexLengths.set(algorithm, length)
  }
  return length
}

/**
 * A content-addressed store: objects live at `<root>/<algorithm>/<hex digest>`. Bodies are written
 * to `<root>/.tmp` while they are hashed and renamed into place only when complete and verified,
 * so a reader never sees a partial object and an aborted upload leaves nothing behind. Symbolic
 * links inside the store are never followed, neither to serve nor to store.
 */
export class ContentStore {
  readonly root: string
  #temp: string | undefined

  constructor(root: string) {
    this.root = root
  }

  /**
   * Creates the directories, removes temp files a crashed process left behind and checks that
   * the store can be written. Rejects (with Node's error code) when it cannot be used.
   */
  async init(): Promise<void> {
    this.#temp = await prepareTempDirectory(this.root, TEMP_DIR)
  }

  async begin(): Promise<PendingObject> {
    if (this.#temp === undefined) throw new Error('the store is not initialised')
    const temp = await createTempFile(this.#temp)
    return {
      file: temp.file,
      commit: async (algorithm, hex) => {
        await temp.commit(this.root, `${algorithm}/${hex}`)
        return `/${algorithm}/${hex}`
      },
      discard: () => temp.discard(),
    }
  }

  /**
   * Serves `<root>/<algorithm>/<hex>` with ETag (the digest), Range and HEAD. Resolves with why
   * nothing was written when there is no such object (a name of the wrong length for the
   * algorithm cannot be one).
   */
  async serve(
    req: IncomingMessage,
    res: ServerResponse,
    algorithm: string,
    hex: string,
  ): Promise<UnservableReason | undefined> {
    if (hex.length !== hexLength(algorithm)) return 'missing'
    return serveFile(req, res, this.root, `${algorithm}/${hex}`, {
      etag: `"${algorithm}-${hex}"`,
      headers: { 'Cache-Control': 'public, max-age=31536000, immutable' },
    })
  }
}
