import { type FileHandle, open } from 'node:fs/promises'
import type { ByteReader } from './storage.js'

const BLOCK = 64 * 1024
const MAX_BLOCKS = 128

/**
 * Reads of one stored object shared by all of its live readers: the file is read in 64 KiB blocks
 * kept in a small LRU (8 MiB), so 500 readers near the same position cost one read and one
 * buffer, not 500. Blocks are immutable once read (readers get slices of them), so nothing is
 * copied per reader and nothing is reused while a socket may still hold it. The file is opened
 * with the upload and closed when the upload is over and its last reader is done.
 */
export class BlockCache {
  readonly #blocks = new Map<number, Promise<Buffer>>()
  // Opened at once, while the upload's file is still at its temporary path: a reader that is still
  // reading after the upload is committed (renamed) keeps reading the same file.
  readonly #file: Promise<FileHandle>
  #users = 0
  #ended = false
  #closed = false

  constructor(path: string) {
    this.#file = open(path, 'r')
    this.#file.catch(() => {})
  }

  async #read(start: number, length: number): Promise<Buffer> {
    const file = await this.#file
    const { bytesRead, buffer } = await file.read(Buffer.allocUnsafe(length), 0, length, start)
    return buffer.subarray(0, bytesRead)
  }

  #block(index: number, stored: number): Promise<Buffer> {
    const start = index * BLOCK
    const length = Math.min(BLOCK, stored - start)
    const cached = this.#blocks.get(index)
    // A block read while it was still being written is shorter: read it again.
    const block =
      cached === undefined
        ? this.#read(start, length)
        : cached.then((bytes) => (bytes.length >= length ? bytes : this.#read(start, length)))
    this.#blocks.delete(index)
    this.#blocks.set(index, block)
    block.catch(() => this.#blocks.delete(index))
    while (this.#blocks.size > MAX_BLOCKS) {
      const oldest = this.#blocks.keys().next().value
      if (oldest === undefined) break
      this.#blocks.delete(oldest)
    }
    return block
  }

  /** A reader of the object; `stored()` says how many bytes may be read at the moment. */
  acquire(stored: () => number): ByteReader {
    this.#users++
    let closed = false
    return {
      read: async (position, length) => {
        const index = Math.floor(position / BLOCK)
        const block = await this.#block(index, stored())
        const offset = position - index * BLOCK
        return block.subarray(offset, offset + length)
      },
      close: async () => {
        if (closed) return
        closed = true
        this.#users--
        await this.#closeIfUnused()
      },
    }
  }

  /** The upload is over (stored or dropped): close the file once its last reader is done. */
  async end(): Promise<void> {
    this.#ended = true
    await this.#closeIfUnused()
  }

  async #closeIfUnused(): Promise<void> {
    if (!this.#ended || this.#users > 0 || this.#closed) return
    this.#closed = true
    this.#blocks.clear()
    await (await this.#file.catch(() => undefined))?.close()
  }
}
