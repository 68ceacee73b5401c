import { Arrivals, LiveBytes, type WaitOptions } from '@sluice/internal/live'
import { DiskStorage } from './disk-storage.js'
import {
  type ChunkedServerError,
  KeyConflictError,
  ObjectNotFoundError,
  SymbolicLinkError,
} from './errors.js'
import { Expiries, maxAge } from './expiries.js'
import { MemoryStorage } from './memory-storage.js'
import type { ByteReader, ObjectMeta, PendingUpload, Storage, StoredObject } from './storage.js'

/** Bytes of the newest data each upload keeps in memory for caught-up readers. */
const RECENT_BYTES = 1024 * 1024

/** An object being uploaded. */
export interface Upload {
  readonly key: string
  /** Content headers of the upload, replayed to readers. */
  readonly headers: Readonly<Record<string, string>>
  /** What readers see: the bytes stored so far, and whether more will come. */
  readonly bytes: LiveBytes
  readonly stored: PendingUpload
  /** Stops the request that carries the upload (DELETE, shutdown). */
  readonly cancel: (error: Error) => void
}

export interface OriginOptions {
  readonly root: string
  /** Objects in memory only, within this many bytes (else on disk under `root`). */
  readonly memoryBudget?: number
  /** Delete finished objects when their upload's `max-age` runs out. */
  readonly expire?: boolean
}

/**
 * The state of the live origin, without HTTP: the uploads in progress (each a {@link LiveBytes}
 * its readers follow), the readers waiting for a key to arrive, the expiry timers, and the storage
 * of finished objects. The route modules turn requests into calls on it.
 */
export class Origin {
  /** Resolves once the storage is set up; rejects when it cannot be used. */
  readonly ready: Promise<void>
  readonly #storage: Storage
  readonly #uploads = new Map<string, Upload>()
  readonly #arrivals = new Arrivals()
  readonly #expiries = new Expiries()
  readonly #expire: boolean

  constructor(options: OriginOptions) {
    this.#storage =
      options.memoryBudget === undefined
        ? new DiskStorage(options.root)
        : new MemoryStorage(options.memoryBudget)
    this.#expire = options.expire ?? false
    this.ready = this.#storage.init()
    this.ready.catch(() => {})
  }

  /** How many objects are being uploaded now. */
  get uploadCount(): number {
    return this.#uploads.size
  }

  /** The upload in progress of `key`. */
  uploading(key: string): Upload | undefined {
    return this.#uploads.get(key)
  }

  /** Starts storing an upload of `key`, or says why it cannot be. */
  async begin(
    key: string,
    headers: Readonly<Record<string, string>>,
    cancel: (error: Error) => void,
  ): Promise<Upload | ChunkedServerError> {
    const busy = () => new KeyConflictError(`${key} is being uploaded by another request`)
    if (this.#uploads.has(key)) return busy()
    const prepared = await this.#storage.prepareKey(key)
    if (prepared === 'symlink') return new SymbolicLinkError(key)
    if (prepared === 'conflict') {
      return new KeyConflictError(`${key} conflicts with an existing object or directory`)
    }
    if (this.#uploads.has(key)) return busy()
    const stored = await this.#storage.begin(key)
    const upload: Upload = {
      key,
      headers,
      bytes: new LiveBytes({ recentBytes: RECENT_BYTES }),
      stored,
      cancel,
    }
    this.#uploads.set(key, upload)
    this.#arrivals.announce(key)
    return upload
  }

  /** Stores the next chunks of an upload, then lets its readers read them. */
  async write(upload: Upload, chunks: readonly Buffer[]): Promise<void> {
    await upload.stored.write(chunks)
    upload.bytes.push(chunks)
  }

  /** The upload's body is complete: it becomes the finished object. */
  async complete(upload: Upload): Promise<ObjectMeta> {
    const { key, headers, bytes } = upload
    const age = this.#expire ? maxAge(headers['cache-control']) : undefined
    const expiresAt = age === undefined ? undefined : Date.now() + age * 1000
    const meta: ObjectMeta = {
      size: bytes.size,
      headers,
      etag: `"${bytes.size.toString(16)}-${Date.now().toString(16)}"`,
      ...(expiresAt === undefined ? {} : { expiresAt }),
    }
    await upload.stored.commit(meta)
    this.#forget(upload)
    this.#expiries.schedule(key, expiresAt, () => {
      if (!this.#uploads.has(key)) this.#storage.delete(key).catch(() => {})
    })
    bytes.complete()
    return meta
  }

  /** The upload failed: its key is free, its readers end abnormally, what it stored is dropped. */
  async fail(upload: Upload, error: Error): Promise<void> {
    this.#forget(upload)
    upload.bytes.abort(error)
    await upload.stored.discard()
  }

  #forget(upload: Upload): void {
    if (this.#uploads.get(upload.key) === upload) this.#uploads.delete(upload.key)
  }

  /** A reader of what an upload has stored so far. */
  openReader(upload: Upload): ByteReader {
    return upload.stored.openReader(() => upload.bytes.size)
  }

  /** The finished object at `key`; an expired one is deleted instead. */
  async finished(key: string): Promise<ObjectMeta | undefined> {
    const meta = await this.#storage.meta(key)
    if (meta?.expiresAt !== undefined && meta.expiresAt <= Date.now()) {
      await this.#storage.delete(key)
      return undefined
    }
    return meta
  }

  /** A finished object to answer with, or why there is none. */
  async open(key: string, meta: ObjectMeta): Promise<StoredObject | ChunkedServerError> {
    const object = await this.#storage.open(key, meta)
    if (object === 'symlink') return new SymbolicLinkError(key)
    if (object === 'missing') return new ObjectNotFoundError(key)
    return object
  }

  /** Waits for an upload of `key` to start. */
  waitFor(key: string, options: WaitOptions): Promise<'arrived' | 'timeout' | 'aborted'> {
    return this.#arrivals.waitFor(key, options)
  }

  /** Deletes an object, or stops its upload (its readers end abnormally); false if absent. */
  async delete(key: string): Promise<boolean> {
    const upload = this.#uploads.get(key)
    if (upload) {
      const error = new Error(`${key} was deleted`)
      await this.fail(upload, error)
      upload.cancel(error)
      return true
    }
    this.#expiries.cancel(key)
    return this.#storage.delete(key)
  }

  /** Aborts every upload in progress (readers end abnormally) and stops the expiry timers. */
  close(): void {
    this.#expiries.clear()
    for (const upload of [...this.#uploads.values()]) {
      const error = new Error('the server is closing')
      this.fail(upload, error).catch(() => {})
      upload.cancel(error)
    }
  }
}
