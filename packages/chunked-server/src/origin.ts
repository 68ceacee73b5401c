import { Arrivals, LiveBytes, type WaitOptions } from '@sluice/internal/live'
import { DiskStorage } from './disk-storage.js'
import {
  type ChunkedServerError,
  KeyConflictError,
  ObjectNotFoundError,
  SymbolicLinkError,
} from './errors.js'
import { Expiries, maxAge } from './expiries.js'
import { KeyWrites } from './key-writes.js'
import { MemoryStorage } from './memory-storage.js'
import { isPlaylist } from './playlist.js'
import type { ByteReader, ObjectMeta, PendingUpload, Storage, StoredObject } from './storage.js'

/** Bytes of the newest data each upload keeps in memory for caught-up readers. */
const RECENT_BYTES = 1024 * 1024
/** Largest playlist whose versions are kept in memory for blocking reloads. */
const MAX_PLAYLIST_BYTES = RECENT_BYTES

/** The whole of a small upload, from the bytes it keeps in memory; undefined when too large. */
function inMemory(bytes: LiveBytes): Buffer | undefined {
  if (bytes.size > MAX_PLAYLIST_BYTES) return undefined
  const chunks: Buffer[] = []
  for (let position = 0; position < bytes.size; ) {
    const chunk = bytes.recent(position, bytes.size - position)
    if (chunk === undefined) return undefined
    chunks.push(chunk)
    position += chunk.length
  }
  return Buffer.concat(chunks)
}

/** One stored version of a playlist, held in memory: what a blocking reload is answered with. */
export interface PlaylistVersion {
  readonly meta: ObjectMeta
  readonly text: Buffer
  readonly storedAt: Date
}

/** An object being uploaded. */
export interface Upload {
  readonly key: string
  /** When it started among the writes of this origin: of overlapping uploads, the last one wins. */
  readonly order: number
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

/** How an upload whose body is complete ended. */
export interface Completed {
  readonly meta: ObjectMeta
  /** False when a write that started later (an upload, a DELETE) had already taken effect. */
  readonly stored: boolean
}

/**
 * The state of the live origin, without HTTP: the uploads in progress (each a {@link LiveBytes}
 * its readers follow), the readers waiting for a key to arrive, the expiry timers, and the storage
 * of finished objects. The route modules turn requests into calls on it.
 *
 * Uploads of one key may overlap: a reader that starts follows the newest, and the object stored
 * is the upload that started last, whatever the order in which they end (see {@link KeyWrites}).
 */
export class Origin {
  /** Resolves once the storage is set up; rejects when it cannot be used. */
  readonly ready: Promise<void>
  readonly #storage: Storage
  /** The writes under way, by key. */
  readonly #writes = new Map<string, KeyWrites<Upload>>()
  /** Writes started so far: the order of the next one. */
  #started = 0
  #running = 0
  readonly #arrivals = new Arrivals()
  /** A playlist got a new version, or was deleted; and every waiter, when the origin closes. */
  readonly #playlistUpdates = new Arrivals()
  readonly #playlists = new Map<string, PlaylistVersion>()
  /** How many times each playlist changed (stored or deleted): a reload waits for the next. */
  readonly #generations = new Map<string, number>()
  readonly #expiries = new Expiries()
  readonly #expire: boolean
  #closing = false

  constructor(options: OriginOptions) {
    this.#storage =
      options.memoryBudget === undefined
        ? new DiskStorage(options.root)
        : new MemoryStorage(options.memoryBudget)
    this.#expire = options.expire ?? false
    this.ready = this.#storage.init()
    this.ready.catch(() => {})
  }

  /** How many uploads are in progress now. */
  get uploadCount(): number {
    return this.#running
  }

  /** The upload of `key` a reader starting now follows: the newest in progress. */
  uploading(key: string): Upload | undefined {
    return this.#writes.get(key)?.newest
  }

  #writesOf(key: string): KeyWrites<Upload> {
    let writes = this.#writes.get(key)
    if (writes === undefined) {
      writes = new KeyWrites()
      this.#writes.set(key, writes)
    }
    return writes
  }

  /** Runs a change of the stored object at `key` after the changes asked for before it. */
  async #change<R>(key: string, change: (writes: KeyWrites<Upload>) => Promise<R>): Promise<R> {
    const writes = this.#writesOf(key)
    try {
      return await writes.inTurn(() => change(writes))
    } finally {
      this.#release(key, writes)
    }
  }

  #release(key: string, writes: KeyWrites<Upload>): void {
    if (writes.idle && this.#writes.get(key) === writes) this.#writes.delete(key)
  }

  /** Starts storing an upload of `key`, or says why it cannot be. */
  async begin(
    key: string,
    headers: Readonly<Record<string, string>>,
    cancel: (error: Error) => void,
  ): Promise<Upload | ChunkedServerError> {
    const order = ++this.#started
    // The key's record stays while the storage is set up: a DELETE meanwhile still outranks it.
    const writes = this.#writesOf(key)
    writes.starting++
    let upload: Upload
    try {
      const prepared = await this.#storage.prepareKey(key)
      if (prepared === 'symlink') return new SymbolicLinkError(key)
      if (prepared === 'conflict') {
        return new KeyConflictError(`${key} conflicts with an existing object or directory`)
      }
      const stored = await this.#storage.begin(key)
      upload = {
        key,
        order,
        headers,
        bytes: new LiveBytes({ recentBytes: RECENT_BYTES }),
        stored,
        cancel,
      }
      writes.add(upload)
      this.#running++
    } finally {
      writes.starting--
      this.#release(key, writes)
    }
    this.#arrivals.announce(key)
    return upload
  }

  /** Stores the next chunks of an upload, then lets its readers read them. */
  async write(upload: Upload, chunks: readonly Buffer[]): Promise<void> {
    await upload.stored.write(chunks)
    upload.bytes.push(chunks)
  }

  /**
   * The upload's body is complete: it becomes the finished object, unless a write of its key that
   * started later has already taken effect (then what it stored is dropped). Rejects when the
   * upload was stopped meanwhile (DELETE, shutdown) or cannot be stored.
   */
  async complete(upload: Upload): Promise<Completed> {
    const { key, headers, bytes } = upload
    const age = this.#expire ? maxAge(headers['cache-control']) : undefined
    const expiresAt = age === undefined ? undefined : Date.now() + age * 1000
    const meta: ObjectMeta = {
      size: bytes.size,
      headers,
      etag: `"${bytes.size.toString(16)}-${Date.now().toString(16)}"`,
      ...(expiresAt === undefined ? {} : { expiresAt }),
    }
    const stopped = () => {
      if (bytes.failure) throw bytes.failure
    }
    const stored = await this.#change(key, async (writes) => {
      stopped()
      if (writes.settled > upload.order) {
        await upload.stored.discard()
        return false
      }
      await upload.stored.commit(meta)
      writes.settled = Math.max(writes.settled, upload.order)
      // Stopped while committing: the DELETE that stopped it is queued next and removes it.
      stopped()
      const text = isPlaylist(key, headers['content-type']) ? inMemory(bytes) : undefined
      if (text !== undefined) {
        this.#playlists.set(key, { meta, text, storedAt: new Date() })
        this.#playlistChanged(key)
      }
      this.#expiries.schedule(key, expiresAt, () => {
        this.#removeExpired(key, meta.etag).catch(() => {})
      })
      return true
    })
    this.#forget(upload)
    bytes.complete()
    return { meta, stored }
  }

  /**
   * The upload failed: readers end abnormally, what it stored is dropped, the key is free for the
   * next upload. Does nothing when the upload already ended.
   */
  async fail(upload: Upload, error: Error): Promise<void> {
    if (upload.bytes.state !== 'receiving') return
    upload.bytes.abort(error)
    // Queued before the upload is forgotten: the key's record (and what it settled) stays.
    const discarded = this.#change(upload.key, () => upload.stored.discard())
    this.#forget(upload)
    await discarded
  }

  #forget(upload: Upload): void {
    const writes = this.#writes.get(upload.key)
    if (writes?.remove(upload)) {
      this.#running--
      this.#release(upload.key, writes)
    }
  }

  /** Removes the object at `key` if it is still the version that expired. */
  #removeExpired(key: string, etag: string): Promise<void> {
    return this.#change(key, async () => {
      if ((await this.#storage.meta(key))?.etag === etag) await this.#storage.delete(key)
    })
  }

  /** A reader of what an upload has stored so far. */
  openReader(upload: Upload): ByteReader {
    return upload.stored.openReader(() => upload.bytes.size)
  }

  /** The finished object at `key`; an expired one is deleted instead. */
  async finished(key: string): Promise<ObjectMeta | undefined> {
    const meta = await this.#storage.meta(key)
    if (meta?.expiresAt !== undefined && meta.expiresAt <= Date.now()) {
      await this.#removeExpired(key, meta.etag)
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

  /**
   * The latest stored version of the playlist at `key` (read from storage once after a restart),
   * or undefined when there is none, it is not a playlist, or it is too large to hold.
   */
  async playlistVersion(key: string): Promise<PlaylistVersion | undefined> {
    const meta = await this.finished(key)
    if (meta === undefined || !isPlaylist(key, meta.headers['content-type'])) return undefined
    const held = this.#playlists.get(key)
    if (held?.meta.etag === meta.etag) return held
    if (meta.size > MAX_PLAYLIST_BYTES) return undefined
    const object = await this.#storage.open(key, meta)
    if (typeof object === 'string') return undefined
    const chunks: Buffer[] = []
    if (meta.size > 0) for await (const chunk of object.open(0, meta.size - 1)) chunks.push(chunk)
    const version = { meta, text: Buffer.concat(chunks), storedAt: new Date() }
    this.#playlists.set(key, version)
    return version
  }

  #playlistChanged(key: string): void {
    this.#generations.set(key, this.playlistGeneration(key) + 1)
    this.#playlistUpdates.announce(key)
  }

  /** Counts the changes of the playlist at `key`: read it before reading the playlist. */
  playlistGeneration(key: string): number {
    return this.#generations.get(key) ?? 0
  }

  /**
   * Resolves 'arrived' once the playlist at `key` has changed since generation `since` (a new
   * version, or deleted) — at once if it already has — or when the origin closes (then
   * {@link closing} is true); else 'timeout' or 'aborted'.
   */
  playlistChangedSince(
    key: string,
    since: number,
    options: WaitOptions,
  ): Promise<'arrived' | 'timeout' | 'aborted'> {
    if (this.#closing || this.playlistGeneration(key) !== since) return Promise.resolve('arrived')
    return this.#playlistUpdates.waitFor(key, options)
  }

  /** The origin is shutting down: nothing held should wait any longer. */
  get closing(): boolean {
    return this.#closing
  }

  /** Waits for an upload of `key` to start. */
  waitFor(key: string, options: WaitOptions): Promise<'arrived' | 'timeout' | 'aborted'> {
    return this.#arrivals.waitFor(key, options)
  }

  /**
   * Deletes the object at `key` and stops every upload of it in progress (their readers end
   * abnormally); false when there was neither.
   */
  async delete(key: string): Promise<boolean> {
    const writes = this.#writesOf(key)
    // A write of its own: no upload that started before it is stored, even one committing now.
    writes.settled = ++this.#started
    const stopped = [...writes.running]
    const error = new Error(`${key} was deleted`)
    for (const upload of stopped) {
      // Its discard is queued before the deletion below, which is awaited.
      this.fail(upload, error).catch(() => {})
      upload.cancel(error)
    }
    const deleted = await this.#change(key, async () => {
      this.#expiries.cancel(key)
      const existed = await this.#storage.delete(key)
      if (this.#playlists.delete(key)) this.#playlistChanged(key)
      return existed
    })
    return deleted || stopped.length > 0
  }

  /** Held blocking reloads are answered (`503`): the origin is shutting down. */
  releaseHeld(): void {
    this.#closing = true
    this.#playlistUpdates.announceAll()
  }

  /** Aborts every upload in progress (readers end abnormally) and stops the expiry timers. */
  close(): void {
    this.releaseHeld()
    this.#expiries.clear()
    const running = [...this.#writes.values()].flatMap((writes) => [...writes.running])
    for (const upload of running) {
      const error = new Error('the server is closing')
      this.fail(upload, error).catch(() => {})
      upload.cancel(error)
    }
  }
}
