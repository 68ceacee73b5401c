import { Transform, type TransformCallback, Writable } from 'node:stream'
import { BodyTooLargeError } from './errors.js'
import type { DigestEngine } from './hash-threads.js'
import type { PendingObject } from './store/index.js'

export interface DigestSinkOptions {
  /** Computes the digests (on this thread or a pool thread). */
  readonly engine: DigestEngine
  /** Fails the stream with {@link BodyTooLargeError} past this many bytes. */
  readonly maxBytes?: number
  /** A store's pending object every byte is written to (after hashing, before the next chunk is accepted). */
  readonly object?: Pick<PendingObject, 'write'>
}

type Callback = (error?: Error | null) => void

/** Counts and size-limits chunks and feeds them to an engine one at a time, in order. */
class Digester {
  size = 0
  digests: Map<string, Buffer> | undefined
  readonly #engine: DigestEngine
  readonly #maxBytes: number

  constructor(engine: DigestEngine, maxBytes = Number.POSITIVE_INFINITY) {
    this.#engine = engine
    this.#maxBytes = maxBytes
  }

  /** Calls `done` once every chunk is taken by the engine (which may push back). */
  take(chunks: readonly Buffer[], done: Callback): void {
    const next = (index: number): void => {
      for (let i = index; i < chunks.length; i++) {
        const chunk = chunks[i] as Buffer
        this.size += chunk.length
        if (this.size > this.#maxBytes) {
          done(new BodyTooLargeError(this.#maxBytes))
          return
        }
        const wait = this.#engine.update(chunk)
        if (wait !== undefined) {
          wait.then(() => next(i + 1), done)
          return
        }
      }
      done()
    }
    next(0)
  }

  finish(done: Callback): void {
    this.#engine.finish().then((digests) => {
      this.digests = digests
      done()
    }, done)
  }

  discard(): void {
    if (this.digests === undefined) this.#engine.discard()
  }

  result(): ReadonlyMap<string, Buffer> {
    if (this.digests === undefined)
      throw new Error('digests are known only once the stream finished')
    return this.digests
  }
}

/**
 * A Writable that hashes what it is given with several algorithms at once, counts it, and
 * optionally stores it. Backpressure: a chunk is accepted only once the engine has room and, with
 * a store, once the store has taken the previous one.
 */
export class DigestSink extends Writable {
  readonly #digester: Digester
  readonly #object: Pick<PendingObject, 'write'> | undefined

  constructor(options: DigestSinkOptions) {
    super({ highWaterMark: 64 * 1024 })
    this.#digester = new Digester(options.engine, options.maxBytes)
    this.#object = options.object
  }

  /** Bytes received so far. */
  get size(): number {
    return this.#digester.size
  }

  #take(chunks: readonly Buffer[], callback: Callback): void {
    this.#digester.take(chunks, (error) => {
      if (error || this.#object === undefined) callback(error)
      else this.#object.write(chunks).then(() => callback(), callback)
    })
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.#take([chunk], callback)
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: Callback): void {
    this.#take(
      chunks.map((entry) => entry.chunk),
      callback,
    )
  }

  override _final(callback: Callback): void {
    this.#digester.finish(callback)
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.#digester.discard()
    callback(error)
  }

  /** The digests, by algorithm; available once the stream has finished. */
  digests(): ReadonlyMap<string, Buffer> {
    return this.#digester.result()
  }
}

/** A pass-through Transform that hashes, counts and size-limits what flows through it. */
export class DigestMeter extends Transform {
  readonly #digester: Digester

  constructor(engine: DigestEngine, maxBytes?: number) {
    super()
    this.#digester = new Digester(engine, maxBytes)
  }

  get size(): number {
    return this.#digester.size
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#digester.take([chunk], (error) => callback(error, error ? undefined : chunk))
  }

  override _flush(callback: TransformCallback): void {
    this.#digester.finish(callback)
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.#digester.discard()
    callback(error)
  }

  /** The digests, by algorithm; available once everything has passed through. */
  digests(): ReadonlyMap<string, Buffer> {
    return this.#digester.result()
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
