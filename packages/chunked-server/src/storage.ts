import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Writable } from 'node:stream'
import type { Ingest } from './ingest.js'

/** What is kept with a finished object and replayed to its readers. */
export interface ObjectMeta {
  readonly size: number
  readonly headers: Readonly<Record<string, string>>
  readonly etag: string
  /** When the object expires (ms since the epoch), with `expire` and a `max-age`. */
  readonly expiresAt?: number
}

/** An upload being stored: its body goes to `sink`; it becomes the object only by `commit`. */
export interface PendingUpload {
  readonly sink: Writable
  commit(meta: ObjectMeta): Promise<void>
  /** Drops what was stored (safe after a failed commit). */
  discard(): Promise<void>
}

/** Where objects live: on disk (the default) or in memory (`-r`). */
export interface Storage {
  init(): Promise<void>
  /** Whether `key` can hold an object (no `/a` vs `/a/b` conflict on disk). */
  prepareKey(key: string): Promise<boolean>
  /** Starts storing an upload; sets `ingest.openReader` and calls `ingest.advance` as bytes land. */
  begin(ingest: Ingest): Promise<PendingUpload>
  meta(key: string): Promise<ObjectMeta | undefined>
  /** Answers a GET/HEAD with a finished object; false, having written nothing, if it is gone. */
  serve(req: IncomingMessage, res: ServerResponse, key: string, meta: ObjectMeta): Promise<boolean>
  delete(key: string): Promise<boolean>
}

/** An upload does not fit in the memory budget of `-r` (answered 507). */
export class InsufficientStorageError extends Error {
  override name = 'InsufficientStorageError'
}
