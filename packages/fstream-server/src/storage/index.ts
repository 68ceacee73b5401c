import type { Representation } from '@sluice/internal/http'
import type { FstreamServerError } from '../errors.js'

/**
 * An append session's hold on its resource: the one appender of the resource across every server
 * that shares the storage. Writes are in order; `sync()` makes them durable.
 */
export interface AppendTarget {
  /** The resource's length when the session began: where its bytes go. */
  readonly start: number
  /** Stores the next chunks after the earlier ones; once it resolves, followers can read them. */
  write(chunks: readonly Buffer[]): Promise<void>
  /** Makes every byte written so far durable; resolves with the durable length of the resource. */
  sync(): Promise<number>
  /**
   * Aborted when the storage takes the resource away from this session (it was deleted, or
   * another server took it over): the session stops taking data, with the reason as its close.
   */
  readonly lost: AbortSignal
  /**
   * Ends the session: the resource is free for the next appender. `complete`: the append
   * finished, and followers end once they have everything; else (a broken connection, a server
   * shutting down) they wait for the next appender, which may resume it.
   */
  close(complete: boolean): Promise<void>
}

/** Where a follower starts, and the bytes it gets. */
export interface FollowSource {
  /** The offset of the first byte (a negative offset resolved). */
  readonly start: number
  /** The resource's length when the follow began: httpfstream's followers get the current content up to here first. */
  readonly size: number
  /** Whether an appender was active when the follow began. */
  readonly live: boolean
  /**
   * Every byte from `start`, stored then live, until the resource is complete (an appender
   * finished and every byte was read; a resource nobody appends to on this server counts as
   * complete when the storage cannot tell) or `signal` aborts. Rejects with `ResourceGoneError`
   * when the resource is deleted meanwhile, or with another error when it cannot be read.
   */
  bytes(signal: AbortSignal): AsyncIterable<Buffer>
  /** Lets go of what the source holds; safe at any time. */
  close(): Promise<void>
}

export interface FollowRequest {
  /** Where to start; negative: that many bytes before the end. */
  readonly offset: number
  /** Wait for a resource that was never written, instead of refusing with 404. */
  readonly wait: boolean
}

/**
 * Where fstream resources live: files below a directory (the default) or NATS JetStream (resources
 * shared by every server on the same stream). Sessions, the protocol, tokens and metrics sit above
 * it and see no file. Paths are validated, `/`-separated and relative (`logs/app.log`).
 */
export interface ResourceStorage {
  /** Sets the storage up; rejects with the reason when it cannot be used. */
  init(): Promise<void>
  /** Lets go of connections and timers (after the sessions are closed). */
  close(): Promise<void>
  /**
   * Begins the one append session of `path`, at `offset` when it is given (the resource must be
   * exactly that long, else 409), or says why not: another appender (409), a link (403).
   */
  openAppend(path: string, offset: number | undefined): Promise<AppendTarget | FstreamServerError>
  /** Begins a follow of `path`, or says why not: 404 (never written), 416 (past the end). */
  openFollow(path: string, request: FollowRequest): Promise<FollowSource | FstreamServerError>
  /** The stored content of `path`, for GET and HEAD (and httpfstream's plain 200), or why none. */
  representation(path: string): Promise<Representation | FstreamServerError>
  /** Deletes `path` (its appender and live followers are ended); false when it does not exist. */
  delete(path: string): Promise<boolean | FstreamServerError>
  /**
   * The resources below the directory `prefix` (`logs` lists `logs/a.log`, `logs/b/c.log`), as
   * paths, sorted, at most `limit` of them.
   */
  list(prefix: string, limit: number): Promise<string[]>
  /** How many resources have an appender on this server now (its metrics). */
  readonly appendingCount: number
}
