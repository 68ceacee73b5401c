import { createTempFile, moveIntoPlace, prepareTempDirectory, writeAll } from '@sluice/internal/fs'
import { fileRepresentation, type Representation } from '@sluice/internal/http'
import {
  OBJECT_HEADERS,
  type ObjectStore,
  objectEtag,
  type PendingObject,
  type Unopenable,
} from './index.js'

const TEMP_DIR = '.tmp'

/**
 * Objects in a directory: `<root>/<algorithm>/<hex digest>`. Bodies are written to `<root>/.tmp`
 * while they are hashed and renamed into place only when complete and verified (after fsync), so
 * a reader never sees a partial object and an aborted upload leaves nothing behind. Symbolic
 * links inside the store are never followed, neither to serve nor to store.
 */
export class DiskStore implements ObjectStore {
  readonly root: string
  #temp: string | undefined

  constructor(root: string) {
    this.root = root
  }

  get location(): string {
    return this.root
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
      write: (chunks) => writeAll(temp.file, chunks),
      commit: async (algorithm, hex) => {
        await temp.commit(this.root, `${algorithm}/${hex}`)
        return `/${algorithm}/${hex}`
      },
      discard: () => temp.discard(),
    }
  }

  async adopt(path: string, algorithm: string, hex: string): Promise<string | undefined> {
    // Replaces an object already there, with the same bytes, as a commit does.
    const name = `${algorithm}/${hex}`
    try {
      await moveIntoPlace(path, this.root, name)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EXDEV') return undefined
      throw error
    }
    return `/${name}`
  }

  async open(algorithm: string, hex: string): Promise<Representation | Unopenable> {
    const opened = await fileRepresentation(this.root, `${algorithm}/${hex}`, {
      etag: objectEtag(algorithm, hex),
      headers: OBJECT_HEADERS,
    })
    return opened === 'not-a-file' ? 'missing' : opened
  }

  async close(): Promise<void> {}
}
