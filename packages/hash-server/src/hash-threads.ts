import { createHash } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

/**
 * Hashing of one body: `update` takes every chunk in order; `finish` resolves with the digests.
 * `update` returns a promise when the caller must wait before sending more (backpressure).
 */
export interface DigestEngine {
  update(chunk: Buffer): Promise<void> | undefined
  finish(): Promise<Map<string, Buffer>>
  discard(): void
}

/** Hashes on the calling thread: right for small bodies, where a thread hop costs more. */
export class InlineEngine implements DigestEngine {
  readonly #hashes: ReturnType<typeof createHash>[]
  readonly #algorithms: readonly string[]

  constructor(algorithms: readonly string[]) {
    this.#algorithms = algorithms
    this.#hashes = algorithms.map((algorithm) => createHash(algorithm))
  }

  update(chunk: Buffer): undefined {
    for (const hash of this.#hashes) hash.update(chunk)
    return undefined
  }

  finish(): Promise<Map<string, Buffer>> {
    return Promise.resolve(
      new Map(
        this.#algorithms.map((algorithm, i) => [algorithm, this.#hashes[i]?.digest() as Buffer]),
      ),
    )
  }

  discard(): void {}
}

// The thread's code, plain CommonJS so that it runs from the bundle and from the sources alike.
const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const streams = new Map()
parentPort.on('message', (m) => {
  if (m.type === 'open') streams.set(m.id, m.algorithms.map((a) => createHash(a)))
  else if (m.type === 'data') {
    const view = new Uint8Array(m.buffer, 0, m.length)
    for (const hash of streams.get(m.id)) hash.update(view)
    parentPort.postMessage({ type: 'ack', id: m.id, buffer: m.buffer }, [m.buffer])
  } else if (m.type === 'close') {
    const digests = streams.get(m.id).map((hash) => hash.digest())
    streams.delete(m.id)
    parentPort.postMessage({ type: 'digests', id: m.id, digests })
  } else if (m.type === 'discard') streams.delete(m.id)
})
`

type ThreadMessage =
  | { type: 'ack'; id: number; buffer: ArrayBuffer }
  | { type: 'digests'; id: number; digests: Uint8Array[] }

interface ThreadStream {
  onAck(buffer: ArrayBuffer): void
  onDigests(digests: Uint8Array[]): void
  onFailure(error: Error): void
}

class HashThread {
  readonly worker: Worker
  readonly streams: Map<number, ThreadStream> = new Map()
  failure: Error | undefined

  constructor() {
    this.worker = new Worker(THREAD_SOURCE, { eval: true })
    this.worker.unref()
    this.worker.on('message', (message: ThreadMessage) => {
      const stream = this.streams.get(message.id)
      if (message.type === 'ack') stream?.onAck(message.buffer)
      else stream?.onDigests(message.digests)
    })
    const fail = (error: Error) => {
      this.failure = error
      for (const stream of this.streams.values()) stream.onFailure(error)
      this.streams.clear()
    }
    this.worker.on('error', fail)
    this.worker.on('exit', (code) => fail(new Error(`hash thread exited with code ${code}`)))
  }
}

/** Bytes handed to a thread at once, and how many such batches one body may have in flight. */
const BATCH_BYTES = 128 * 1024
const BATCHES_IN_FLIGHT = 4
/**
 * A body past LARGE_AFTER bytes moves to LARGE_BATCH_BYTES batches while the pool is lightly used
 * (no more bodies than threads) and its budget allows: eight times fewer messages between the
 * threads (each costs both of them a wake-up) where that overhead shows, a single big upload.
 * Under many concurrent bodies the small batches keep memory low.
 */
const LARGE_AFTER = 4 * 1024 * 1024
const LARGE_BATCH_BYTES = 1024 * 1024
/** Batch buffers of all bodies together (8 MiB); past it a body gets one buffer, no pipelining. */
const POOL_BYTES = 8 * 1024 * 1024

/** Bytes of batch buffers handed out by a pool, shared by its engines. */
interface BatchBudget {
  bytes: number
  /** Bodies being hashed, and the pool's threads. */
  bodies: number
  readonly threads: number
}

/**
 * Hashes on a pool thread so that reading the socket and hashing use two cores. Chunks are copied
 * into one of four reusable buffers (128 KiB, 1 MiB once a body is past 4 MiB), transferred to the
 * thread and transferred back once hashed: a body never holds more than 4 MiB (and all bodies of a
 * pool 8 MiB plus one buffer each), and when its buffers are all out `update` returns a promise
 * that settles when one comes back (backpressure up to the socket).
 */
class ThreadEngine implements DigestEngine {
  readonly #thread: HashThread
  readonly #id: number
  readonly #budget: BatchBudget
  readonly #free: ArrayBuffer[] = []
  /** Buffers this body owns, and their bytes. */
  #allocated = 0
  #allocatedBytes = 0
  #received = 0
  #open = true
  #batch: Buffer | undefined
  #filled = 0
  #waiting: { resolve: () => void; reject: (error: Error) => void } | undefined
  #finishing:
    | { resolve: (digests: Map<string, Buffer>) => void; reject: (error: Error) => void }
    | undefined
  #failure: Error | undefined

  constructor(thread: HashThread, id: number, algorithms: readonly string[], budget: BatchBudget) {
    this.#thread = thread
    this.#id = id
    this.#budget = budget
    budget.bodies++
    thread.streams.set(id, {
      onAck: (buffer) => {
        this.#free.push(buffer)
        const waiting = this.#waiting
        this.#waiting = undefined
        waiting?.resolve()
      },
      onDigests: (digests) => {
        thread.streams.delete(id)
        this.#release()
        const result = new Map(
          algorithms.map((algorithm, i) => {
            const digest = digests[i] ?? new Uint8Array()
            return [algorithm, Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength)]
          }),
        )
        this.#finishing?.resolve(result)
      },
      onFailure: (error) => {
        this.#failure = error
        this.#release()
        this.#waiting?.reject(error)
        this.#finishing?.reject(error)
      },
    })
    thread.worker.postMessage({ type: 'open', id, algorithms })
  }

  #takeBuffer(): Buffer | undefined {
    const large = this.#received >= LARGE_AFTER && this.#budget.bodies <= this.#budget.threads
    const size = large ? LARGE_BATCH_BYTES : BATCH_BYTES
    const free = this.#free.pop()
    if (
      free &&
      free.byteLength < size &&
      this.#budget.bytes + size - free.byteLength <= POOL_BYTES
    ) {
      // A large body trades its small buffer for a large one.
      this.#own(size - free.byteLength)
      return Buffer.from(new ArrayBuffer(size))
    }
    if (free) return Buffer.from(free)
    const first = this.#allocated === 0
    if (first || (this.#allocated < BATCHES_IN_FLIGHT && this.#budget.bytes + size <= POOL_BYTES)) {
      this.#allocated++
      this.#own(size)
      return Buffer.from(new ArrayBuffer(size))
    }
    return undefined
  }

  #own(bytes: number): void {
    this.#allocatedBytes += bytes
    this.#budget.bytes += bytes
  }

  #release(): void {
    if (this.#open) this.#budget.bodies--
    this.#open = false
    this.#budget.bytes -= this.#allocatedBytes
    this.#allocatedBytes = 0
    this.#allocated = 0
    this.#free.length = 0
  }

  #send(): void {
    const batch = this.#batch
    if (batch === undefined || this.#filled === 0) return
    this.#thread.worker.postMessage(
      { type: 'data', id: this.#id, buffer: batch.buffer, length: this.#filled },
      [batch.buffer as ArrayBuffer],
    )
    this.#batch = undefined
    this.#filled = 0
  }

  update(chunk: Buffer): Promise<void> | undefined {
    if (this.#failure) return Promise.reject(this.#failure)
    let offset = 0
    while (offset < chunk.length) {
      this.#batch ??= this.#takeBuffer()
      const batch = this.#batch
      if (batch === undefined) {
        // Every buffer is at the thread: wait for one, then take the rest of this chunk.
        const rest = chunk.subarray(offset)
        return new Promise<void>((resolve, reject) => {
          this.#waiting = { resolve, reject }
        }).then(() => this.update(rest))
      }
      const n = chunk.copy(batch, this.#filled, offset)
      this.#filled += n
      this.#received += n
      offset += n
      if (this.#filled === batch.length) this.#send()
    }
    return undefined
  }

  finish(): Promise<Map<string, Buffer>> {
    if (this.#failure) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => {
      this.#finishing = { resolve, reject }
      this.#send()
      this.#thread.worker.postMessage({ type: 'close', id: this.#id })
    })
  }

  discard(): void {
    if (!this.#thread.streams.delete(this.#id)) return
    this.#release()
    this.#thread.worker.postMessage({ type: 'discard', id: this.#id })
  }
}

/**
 * Seconds of one core that hashing a GiB with these algorithms takes, measured once per set on
 * 4 MiB (a few milliseconds).
 */
const hashCosts = new Map<string, number>()
function hashSecondsPerGiB(algorithms: readonly string[]): number {
  const key = algorithms.join(',')
  let cost = hashCosts.get(key)
  if (cost === undefined) {
    const sample = Buffer.alloc(1024 * 1024, 0x5a)
    const hashes = algorithms.map((algorithm) => createHash(algorithm))
    const start = process.hrtime.bigint()
    for (let i = 0; i < 4; i++) for (const hash of hashes) hash.update(sample)
    cost = (Number(process.hrtime.bigint() - start) / 1e9) * 256
    hashCosts.set(key, cost)
  }
  return cost
}

/**
 * Hashing that costs less than this per GiB stays on the request's thread: it is then cheaper
 * than reading the socket (about 0.7-0.8 s per GiB here), so a thread would add its hand-offs
 * without making the upload faster (measured: SHA-256 with SHA-NI, 0.6 s per GiB, is faster and
 * takes 30% less CPU on the request thread; MD5, 1.5 s per GiB, is 15% faster on a thread).
 */
const THREAD_WORTH_SECONDS_PER_GIB = 1

/** A lazily started pool of hashing threads shared by every body of a process. */
export class HashThreadPool {
  readonly size: number
  readonly #threads: HashThread[] = []
  readonly #budget: BatchBudget
  #nextId = 0

  /** @param size threads at most (default: the machine's cores) */
  constructor(size: number = availableParallelism()) {
    this.size = size
    this.#budget = { bytes: 0, bodies: 0, threads: size }
  }

  /** Whether hashing these algorithms is slow enough that a thread makes a body faster. */
  worthFor(algorithms: readonly string[]): boolean {
    return hashSecondsPerGiB(algorithms) >= THREAD_WORTH_SECONDS_PER_GIB
  }

  engine(algorithms: readonly string[]): DigestEngine {
    const thread = this.#pick()
    return new ThreadEngine(thread, this.#nextId++, algorithms, this.#budget)
  }

  #pick(): HashThread {
    for (let i = this.#threads.length - 1; i >= 0; i--) {
      if (this.#threads[i]?.failure) this.#threads.splice(i, 1)
    }
    const idle = this.#threads.find((thread) => thread.streams.size === 0)
    if (idle) return idle
    if (this.#threads.length < this.size) {
      const thread = new HashThread()
      this.#threads.push(thread)
      return thread
    }
    return this.#threads.reduce((a, b) => (b.streams.size < a.streams.size ? b : a))
  }

  /** Stops every thread (bodies being hashed fail). */
  async close(): Promise<void> {
    await Promise.all(this.#threads.splice(0).map((thread) => thread.worker.terminate()))
  }
}
