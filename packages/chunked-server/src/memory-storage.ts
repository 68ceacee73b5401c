import { Readable } from 'node:stream'
import { InsufficientStorageError } from './errors.js'
import {
  answerOptions,
  type ByteReader,
  type ObjectMeta,
  type PendingUpload,
  type StoredObject as Representation,
  type Storage,
} from './storage.js'

interface StoredObject {
  readonly chunks: readonly Buffer[]
  readonly meta: ObjectMeta
  readonly storedAt: Date
}

/** Reads a growing list of chunks at any position; sequential reads cost O(1) each. */
function chunkReader(chunks: readonly Buffer[]): ByteReader {
  let index = 0
  let start = 0
  return {
    read: async (position, length) => {
      if (position < start) {
        index = 0
        start = 0
      }
      while (index < chunks.length && start + (chunks[index]?.length ?? 0) <= position) {
        start += chunks[index]?.length ?? 0
        index++
      }
      const chunk = chunks[index]
      if (chunk === undefined) return Buffer.alloc(0)
      return chunk.subarray(position - start, position - start + length)
    },
    close: async () => {},
  }
}

function* slices(chunks: readonly Buffer[], from: number, to: number): Generator<Buffer> {
  let offset = 0
  for (const chunk of chunks) {
    const end = offset + chunk.length
    if (end > from && offset <= to) {
      yield chunk.subarray(Math.max(0, from - offset), Math.min(chunk.length, to - offset + 1))
    }
    offset = end
    if (offset > to) return
  }
}

/**
 * Objects in memory only (`-r`): nothing touches the disk and nothing survives a restart. Every
 * stored byte, finished or arriving, counts against `budget`; an upload that would pass it fails
 * with {@link InsufficientStorageError} (507) and is dropped.
 */
export class MemoryStorage implements Storage {
  readonly budget: number
  used = 0
  readonly #objects = new Map<string, StoredObject>()

  constructor(budget: number) {
    this.budget = budget
  }

  async init(): Promise<void> {}

  async prepareKey(): Promise<'ok'> {
    return 'ok'
  }

  async begin(key: string): Promise<PendingUpload> {
    const chunks: Buffer[] = []
    let held = 0
    return {
      write: async (written) => {
        const bytes = written.reduce((sum, chunk) => sum + chunk.length, 0)
        if (this.used + bytes > this.budget) {
          throw new InsufficientStorageError(`the memory budget of ${this.budget} bytes is full`)
        }
        // Copies: a socket chunk is a slice of a larger read buffer it would keep alive.
        for (const chunk of written) chunks.push(Buffer.from(chunk))
        held += bytes
        this.used += bytes
      },
      openReader: () => chunkReader(chunks),
      commit: async (meta) => {
        this.#drop(key)
        this.#objects.set(key, { chunks, meta, storedAt: new Date() })
        held = 0
      },
      discard: async () => {
        this.used -= held
        held = 0
      },
    }
  }

  #drop(key: string): boolean {
    const existing = this.#objects.get(key)
    if (existing === undefined) return false
    this.#objects.delete(key)
    this.used -= existing.meta.size
    return true
  }

  async meta(key: string): Promise<ObjectMeta | undefined> {
    return this.#objects.get(key)?.meta
  }

  async open(key: string): Promise<Representation | 'missing'> {
    const object = this.#objects.get(key)
    if (object === undefined) return 'missing'
    return {
      ...answerOptions(object.meta),
      size: object.meta.size,
      etag: object.meta.etag,
      lastModified: object.storedAt,
      open: (start, end) => Readable.from(slices(object.chunks, start, end)),
    }
  }

  async delete(key: string): Promise<boolean> {
    return this.#drop(key)
  }
}
