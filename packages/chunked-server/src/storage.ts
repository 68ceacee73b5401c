import type { Representation, ServeFileOptions } from '@sluice/internal/http'

/** What is kept with a finished object and replayed to its readers. */
export interface ObjectMeta {
  readonly size: number
  readonly headers: Readonly<Record<string, string>>
  readonly etag: string
  /** When the object expires (ms since the epoch), with `expire` and a `max-age`. */
  readonly expiresAt?: number
}

/** How a finished object is answered: its validator and the upload's content headers. */
export function answerOptions(meta: ObjectMeta): ServeFileOptions {
  const { 'content-type': contentType, ...headers } = meta.headers
  return { etag: meta.etag, ...(contentType === undefined ? {} : { contentType }), headers }
}

/** Reads the bytes of an object while it is being stored, at any position. */
export interface ByteReader {
  /** 1 to `length` bytes from `position` (none only past the end of what is stored). */
  read(position: number, length: number): Promise<Buffer>
  close(): Promise<void>
}

/** An upload being stored: it becomes the object only by `commit`. */
export interface PendingUpload {
  /** Stores the next chunks; once it resolves, readers may read them. */
  write(chunks: readonly Buffer[]): Promise<void>
  /** A reader of what has been stored; `stored()` says how many bytes that is now. */
  openReader(stored: () => number): ByteReader
  commit(meta: ObjectMeta): Promise<void>
  /** Drops what was stored (safe after a failed commit). */
  discard(): Promise<void>
}

/** A finished object, ready to be answered (see `serveRepresentation`). */
export type StoredObject = Representation

/** Where objects live: on disk (the default) or in memory (`-r`). Knows nothing of HTTP. */
export interface Storage {
  /** Sets the store up; rejects (with Node's error code) when it cannot be used. */
  init(): Promise<void>
  /**
   * Whether `key` can hold an object: `conflict` when a file or directory is in the way (`/a` vs
   * `/a/b`), `symlink` when a symbolic link is on its path (never followed).
   */
  prepareKey(key: string): Promise<'ok' | 'conflict' | 'symlink'>
  begin(key: string): Promise<PendingUpload>
  meta(key: string): Promise<ObjectMeta | undefined>
  /** The finished object to answer with, or why there is none. */
  open(key: string, meta: ObjectMeta): Promise<StoredObject | 'missing' | 'symlink'>
  delete(key: string): Promise<boolean>
}
