import { createHash, type Hash } from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import { Transform, type TransformCallback, Writable } from 'node:stream'
import { BodyTooLargeError } from './errors.js'

export interface DigestSinkOptions {
  /** Node hash algorithms to compute. */
  readonly algorithms: readonly string[]
  /** Fails the stream with {@link BodyTooLargeError} past this many bytes. */
  readonly maxBytes?: number
  /** A file every byte is written to (after hashing, before the next chunk is accepted). */
  readonly file?: FileHandle
}

async function writeAll(file: FileHandle, chunks: readonly Buffer[]): Promise<void> {
  let pending = chunks
  while (pending.length > 0) {
    let { bytesWritten } = await file.writev(pending as Buffer[])
    const rest: Buffer[] = []
    for (const chunk of pending) {
      if (bytesWritten >= chunk.length) bytesWritten -= chunk.length
      else {
        rest.push(bytesWritten === 0 ? chunk : chunk.subarray(bytesWritten))
        bytesWritten = 0
      }
    }
    pending = rest
  }
}

/** Hashes bytes with several algorithms at once, counts them and enforces a size limit. */
class Digester {
  size = 0
  readonly #hashes: ReadonlyArray<readonly [string, Hash]>
  readonly #maxBytes: number
  #digests: Map<string, Buffer> | undefined

  constructor(algorithms: readonly string[], maxBytes = Number.POSITIVE_INFINITY) {
    this.#hashes = algorithms.map((algorithm) => [algorithm, createHash(algorithm)] as const)
    this.#maxBytes = maxBytes
  }

  /** Returns the error to fail the stream with, if this chunk breaks the limit. */
  update(chunk: Buffer): BodyTooLargeError | undefined {
    this.size += chunk.length
    if (this.size > this.#maxBytes) return new BodyTooLargeError(this.#maxBytes)
    for (const [, hash] of this.#hashes) hash.update(chunk)
    return undefined
  }

  digests(): ReadonlyMap<string, Buffer> {
    this.#digests ??= new Map(this.#hashes.map(([algorithm, hash]) => [algorithm, hash.digest()]))
    return this.#digests
  }
}

/**
 * A Writable that hashes what it is given with several algorithms at once, counts it, and
 * optionally writes it to a file. Backpressure: when a file is attached, a chunk is accepted only
 * once the previous one is written (to the page cache).
 */
export class DigestSink extends Writable {
  readonly #digester: Digester
  readonly #file: FileHandle | undefined

  constructor(options: DigestSinkOptions) {
    super({ highWaterMark: 256 * 1024 })
    this.#digester = new Digester(options.algorithms, options.maxBytes)
    this.#file = options.file
  }

  /** Bytes received so far. */
  get size(): number {
    return this.#digester.size
  }

  #take(chunks: readonly Buffer[], callback: (error?: Error | null) => void): void {
    for (const chunk of chunks) {
      const error = this.#digester.update(chunk)
      if (error) return callback(error)
    }
    if (this.#file === undefined) callback()
    else writeAll(this.#file, chunks).then(() => callback(), callback)
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.#take([chunk], callback)
  }

  override _writev(
    chunks: Array<{ chunk: Buffer }>,
    callback: (error?: Error | null) => void,
  ): void {
    this.#take(
      chunks.map((entry) => entry.chunk),
      callback,
    )
  }

  /** The digests, by algorithm; available once the stream has finished. */
  digests(): ReadonlyMap<string, Buffer> {
    if (!this.writableFinished) throw new Error('digests are known only once the stream finished')
    return this.#digester.digests()
  }
}

/** A pass-through Transform that hashes, counts and size-limits what flows through it. */
export class DigestMeter extends Transform {
  readonly #digester: Digester

  constructor(algorithms: readonly string[], maxBytes?: number) {
    super()
    this.#digester = new Digester(algorithms, maxBytes)
  }

  get size(): number {
    return this.#digester.size
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const error = this.#digester.update(chunk)
    if (error) callback(error)
    else callback(null, chunk)
  }

  /** The digests, by algorithm; available once everything has passed through. */
  digests(): ReadonlyMap<string, Buffer> {
    if (!this.writableFinished) throw new Error('digests are known only once the stream finished')
    return this.#digester.digests()
  }
}

/** `{ algorithm: hex }` in the order of `algorithms`. */
export function hexDigests(
  algorithms: readonly string[],
  computed: ReadonlyMap<string, Buffer>,
): Record<string, string> {
  const hex: Record<string, string> = {}
  for (const algorithm of algorithms) {
    const digest = computed.get(algorithm)
    if (digest === undefined) throw new Error(`digest ${algorithm} was not computed`)
    hex[algorithm] = digest.toString('hex')
  }
  return hex
}
