import type { JetStreamClient, PubAck } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { MsgHdrs } from '@nats-io/nats-core'
import {
  AppendConflictError,
  FstreamServerError,
  ResourceGoneError,
  StorageError,
} from '../errors.js'
import type { AppendTarget } from './index.js'
import { apiCode, HEADER, type MarkerKind, type ResourceMessage } from './jetstream-messages.js'

/**
 * Largest message published (nats-server's max_payload is 1 MiB, headers included). Publishing is
 * one message per round trip: larger messages carry more per trip (R1 here: 92 MiB/s at 512 KiB,
 * 104–109 at 896).
 */
export const MAX_MESSAGE_BYTES: number = 896 * 1024
/** How long a publish keeps being retried through a failover before the append fails. */
const PUBLISH_DEADLINE_MS = 30_000
/** JetStream's "wrong last sequence" (an expectation on the subject's last message failed). */
const WRONG_LAST_SEQUENCE = 10071

/** What the appender needs of the storage. */
export interface AppendContext {
  readonly js: JetStreamClient
  readonly leases: KV
  readonly headers: () => MsgHdrs
  readonly subject: string
  /** The resource's lease key. */
  readonly key: string
  readonly writer: string
  readonly leaseMs: number
  /** The subject's last message, read from the stream's leader (undefined: none). */
  readonly last: () => Promise<ResourceMessage | undefined>
  /** Clears the subject's messages before `seq` (the fence of an append after a deletion). */
  readonly purgeBefore: (seq: number) => Promise<void>
  /** The session is over (this server's count of appenders). */
  readonly released: () => void
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * One append session on JetStream. The lease (a KV entry with the bucket's TTL, renewed at a third
 * of it, every change a compare-and-set on its revision) makes it the resource's only appender
 * across servers; its fence (an empty message published with the expectation of the subject's
 * last sequence) and that same expectation on every publish keep a stale appender from writing
 * again. Publishes are serial (each expects the last one's sequence); an append's data is durable
 * (on a quorum of nodes when replicated) once JetStream acknowledges it.
 */
export class JetStreamAppend implements AppendTarget {
  readonly start: number
  readonly #context: AppendContext
  readonly #lost = new AbortController()
  #lastSeq: number
  #end: number
  #revision: number
  readonly #renewal: NodeJS.Timeout
  #renewing: Promise<void> | undefined
  #closed = false

  private constructor(context: AppendContext, start: number, lastSeq: number, revision: number) {
    this.#context = context
    this.start = start
    this.#end = start
    this.#lastSeq = lastSeq
    this.#revision = revision
    this.#renewal = setInterval(
      () => {
        this.#renewing ??= this.#renew().finally(() => {
          this.#renewing = undefined
        })
      },
      Math.max(100, Math.floor(context.leaseMs / 3)),
    )
    this.#renewal.unref()
  }

  get lost(): AbortSignal {
    return this.#lost.signal
  }

  /**
   * Takes the lease of the resource, checks its length against `offset`, and writes the fence;
   * or says why not (another appender: 409).
   */
  static async open(
    context: AppendContext,
    offset: number | undefined,
  ): Promise<JetStreamAppend | FstreamServerError> {
    let revision: number
    try {
      revision = await context.leases.create(context.key, context.writer)
    } catch (error) {
      if (apiCode(error) === WRONG_LAST_SEQUENCE) {
        return new AppendConflictError('another appender is active (on this or another server)')
      }
      throw error
    }
    const release = () =>
      context.leases.delete(context.key, { previousSeq: revision }).catch(() => {})
    try {
      const last = await context.last()
      const size =
        last === undefined || last.kind === 'deleted' ? 0 : last.offset + last.data.length
      if (offset !== undefined && offset !== size) {
        await release()
        return new AppendConflictError(`the resource is ${size} bytes, not ${offset}`)
      }
      const append = new JetStreamAppend(context, size, last?.seq ?? 0, revision)
      try {
        await append.#publish('fence', Buffer.alloc(0), size)
      } catch (error) {
        append.#stop()
        await release()
        if (error instanceof FstreamServerError) return error
        throw error
      }
      // A resource deleted and written again starts from its fence.
      if (last?.kind === 'deleted') await context.purgeBefore(append.#lastSeq)
      return append
    } catch (error) {
      await release()
      throw error
    }
  }

  async write(chunks: readonly Buffer[]): Promise<void> {
    let pending: Buffer[] = []
    let pendingBytes = 0
    const flush = async () => {
      if (pendingBytes === 0) return
      const data = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending)
      pending = []
      pendingBytes = 0
      await this.#publish(undefined, data, this.#end)
      this.#end += data.length
    }
    for (let chunk of chunks) {
      while (chunk.length > 0) {
        const room = MAX_MESSAGE_BYTES - pendingBytes
        pending.push(chunk.subarray(0, room))
        pendingBytes += Math.min(room, chunk.length)
        chunk = chunk.subarray(room)
        if (pendingBytes >= MAX_MESSAGE_BYTES) await flush()
      }
    }
    await flush()
  }

  /** Everything written is acknowledged by JetStream already: durable. */
  async sync(): Promise<number> {
    return this.#end
  }

  async close(complete: boolean): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      if (complete && !this.#lost.signal.aborted) {
        await this.#publish('end', Buffer.alloc(0), this.#end)
      }
    } finally {
      this.#stop()
      await this.#renewing
      await this.#context.leases
        .delete(this.#context.key, { previousSeq: this.#revision })
        .catch(() => {})
    }
  }

  /** The resource is taken from this session now (deleted through this server). */
  lose(why: Error): void {
    this.#lost.abort(why)
  }

  #stop(): void {
    clearInterval(this.#renewal)
    this.#context.released()
  }

  /**
   * The resource was taken from this session: why, as its followers and its appender see it
   * (`evidence`: what showed it, for the logs).
   */
  async #loseIt(evidence: string): Promise<Error> {
    const last = await this.#context.last().catch(() => undefined)
    const why =
      last?.kind === 'deleted'
        ? new ResourceGoneError('the resource was deleted')
        : new AppendConflictError(`another appender took the resource over (${evidence})`)
    this.#lost.abort(why)
    return why
  }

  /**
   * Takes the lease again after it lapsed, if nobody wrote since: `taken`; `unknown` when
   * JetStream could not tell (tried again at the next renewal); else what shows another appender.
   */
  async #retake(): Promise<string> {
    const { leases, key, writer } = this.#context
    let last: ResourceMessage | undefined
    try {
      last = await this.#context.last()
    } catch {
      return 'unknown'
    }
    // Another appender fences before it writes, so a last message of this session's means nobody
    // wrote since (it may be newer than #lastSeq: a publish whose ack is still on its way).
    if (last?.writer !== writer) return `lease lapsed, last message by ${last?.writer || 'nobody'}`
    try {
      this.#revision = await leases.create(key, writer)
      return 'taken'
    } catch (error) {
      return apiCode(error) === WRONG_LAST_SEQUENCE ? 'lease lapsed and taken' : 'unknown'
    }
  }

  async #renew(): Promise<void> {
    if (this.#closed) return
    const { leases, key, writer } = this.#context
    try {
      this.#revision = await leases.update(key, writer, this.#revision)
      return
    } catch (error) {
      // Other failures (a failover) are tried again at the next renewal.
      if (apiCode(error) !== WRONG_LAST_SEQUENCE) return
    }
    // A renewal that landed although its acknowledgement was lost in a failover: the lease is
    // still ours, at a newer revision. Otherwise another server holds it now (ours lapsed, or the
    // resource was deleted).
    const entry = await leases.get(key).catch(() => 'unknown' as const)
    if (entry === 'unknown') return
    if (entry?.operation === 'PUT' && entry.string() === writer) {
      this.#revision = entry.revision
      return
    }
    // Our lease lapsed while a failover kept renewals from landing (its TTL removed it), and
    // nobody took it: if the resource's last message is still ours, take the lease again.
    const retaken =
      entry === null ? await this.#retake() : `lease ${entry.operation} by ${entry.string()}`
    if (retaken !== 'taken' && retaken !== 'unknown') await this.#loseIt(retaken)
  }

  /**
   * Publishes one message with the expectation that the subject's last message is the one this
   * session wrote last, through failovers (the same message id, the same expectation, until the
   * deadline). A refused expectation is either this session's own publish that landed although its
   * acknowledgement was lost (the last message then is ours: success), or another appender.
   */
  async #publish(kind: MarkerKind | undefined, data: Buffer, offset: number): Promise<void> {
    if (this.#lost.signal.aborted) throw this.#lost.signal.reason
    const { js, subject, writer } = this.#context
    const msgID = `${writer}:${kind ?? 'data'}:${offset}`
    const deadline = Date.now() + PUBLISH_DEADLINE_MS
    for (let attempt = 0; ; attempt++) {
      if (this.#lost.signal.aborted) throw this.#lost.signal.reason
      // A new headers object each time: publish adds its own headers to the one it is given.
      const headers = this.#context.headers()
      headers.set(HEADER.offset, String(offset))
      headers.set(HEADER.writer, writer)
      if (kind !== undefined) headers.set(HEADER.kind, kind)
      let ack: PubAck
      try {
        ack = await js.publish(subject, data, {
          headers,
          msgID,
          expect: { lastSubjectSequence: this.#lastSeq },
          timeout: 5_000,
        })
      } catch (error) {
        if (apiCode(error) === WRONG_LAST_SEQUENCE) {
          // Which message is last decides; not knowing it yet (a failover) is tried again.
          const last = await this.#context.last().catch((readError: unknown) => {
            if (Date.now() > deadline) {
              throw new StorageError(
                `JetStream did not say which message is last: ${(readError as Error).message}`,
                { cause: readError },
              )
            }
            return 'unknown' as const
          })
          if (last === 'unknown') {
            await sleep(Math.min(1000, 100 * 2 ** attempt))
            continue
          }
          // This very message (a fence and the data after it share an offset: kinds differ).
          if (
            last !== undefined &&
            last.writer === writer &&
            last.kind === (kind ?? 'data') &&
            last.offset === offset
          ) {
            this.#lastSeq = last.seq
            return
          }
          // Our previous message is the last one (at another sequence than its ack said, after
          // a failover): this one is not there yet, and nobody else wrote. Publish it again.
          if (
            last !== undefined &&
            last.writer === writer &&
            last.offset + last.data.length === offset &&
            last.seq !== this.#lastSeq &&
            Date.now() <= deadline
          ) {
            this.#lastSeq = last.seq
            continue
          }
          throw await this.#loseIt(
            `last message ${last?.kind ?? 'none'} by ${last?.writer || 'nobody'} at ${last?.offset}`,
          )
        }
        if (Date.now() > deadline) {
          throw new StorageError(`JetStream did not take the data: ${(error as Error).message}`, {
            cause: error,
          })
        }
        await sleep(Math.min(1000, 100 * 2 ** attempt))
        continue
      }
      this.#lastSeq = ack.seq
      return
    }
  }
}
