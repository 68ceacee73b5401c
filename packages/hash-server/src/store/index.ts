import type { Representation } from '@sluice/internal/http'

/** What a store knows of a body before it arrives: both help it choose where the bytes go. */
export interface BodyHint {
  /** The declared length (`Content-Length`), when there is one. */
  readonly size?: number
  /**
   * The digest of the store's key algorithm that the client declared (`Repr-Digest`,
   * `Content-MD5`): the body can go straight to its final name, kept only if it matches.
   */
  readonly declared?: { readonly algorithm: string; readonly hex: string }
}

/** A body being stored; it becomes visible only through `commit`. */
export interface PendingObject {
  /**
   * Takes the next chunks after the earlier ones. Resolves once the store has room for more
   * (backpressure); rejects when the bytes cannot be stored (a `StoreError`).
   */
  write(chunks: readonly Buffer[]): Promise<void>
  /**
   * Makes the body, complete and verified, the object `<algorithm>/<hex>`; resolves with its
   * URL path. An object already there is not written again.
   */
  commit(algorithm: string, hex: string): Promise<string>
  /** Drops the body: nothing of it stays. Safe after a failed commit, and twice. */
  discard(): Promise<void>
}

/** Why a stored object cannot be served: none there, or a symbolic link (never followed). */
export type Unopenable = 'missing' | 'symlink'

/**
 * Where verified bodies are kept, content-addressed: `<algorithm>/<hex>`. An object appears only
 * once complete and verified; an aborted or refused body leaves nothing. Two stores come with
 * hash-server: {@link DiskStore} (a directory) and {@link S3Store} (S3-compatible object storage);
 * any other passed as `store` must keep the same promises (the contract tests check them).
 */
export interface ObjectStore {
  /** Where it keeps objects, for messages: a directory, `s3://bucket/prefix`. */
  readonly location: string
  /**
   * True when the store takes bytes more slowly than one core hashes them (a service over the
   * network): bodies bound for it are hashed on the request thread, since a hashing thread would
   * add its hand-offs and its memory without making them any faster.
   */
  readonly paced?: boolean
  /** Sets the store up and checks that it can be written; rejects with the reason otherwise. */
  init(): Promise<void>
  /** Starts storing a body. */
  begin(hint?: BodyHint): Promise<PendingObject>
  /** The object `<algorithm>/<hex>` as a representation to serve (ETag: `"<algorithm>-<hex>"`). */
  open(algorithm: string, hex: string): Promise<Representation | Unopenable>
  /**
   * Optional: makes a complete local file, synced, whose digest is known, the object
   * `<algorithm>/<hex>` by moving it (an object already there, with the same bytes, replaced).
   * Resolves with the object's URL path, or with undefined when the file cannot be moved here
   * (another filesystem): the caller then writes it through `begin`. A disk store implements it.
   */
  adopt?(path: string, algorithm: string, hex: string): Promise<string | undefined>
  /** Lets go of connections; objects being stored fail. */
  close(): Promise<void>
}

/** The strong validator of a content-addressed object: its name never names other bytes. */
export function objectEtag(algorithm: string, hex: string): string {
  return `"${algorithm}-${hex}"`
}

/** Headers of every stored object's answer: what is at a digest's name never changes. */
export const OBJECT_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'public, max-age=31536000, immutable',
}
