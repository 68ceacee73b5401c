import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import type { JetStreamClient, JetStreamManager, StoredMsg } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core'
import type { Representation } from '@sluice/internal/http'
import {
  type FstreamServerError,
  OffsetOutOfRangeError,
  ResourceGoneError,
  ResourceNotFoundError,
  StorageError,
} from '../errors.js'
import type { AppendTarget, FollowRequest, FollowSource, ResourceStorage } from './index.js'
import { JetStreamAppend } from './jetstream-appender.js'
import {
  apiCode,
  endOf,
  HEADER,
  pathToken,
  type ResourceMessage,
  readMessage,
  tokenPath,
} from './jetstream-messages.js'
import { readResource } from './jetstream-reader.js'

/** Options of {@link JetStreamStorage}. */
export interface JetStreamStorageOptions {
  /** NATS servers, tried in turn (`nats://a:4222`); the connection moves to another one when its server fails. */
  readonly servers: readonly string[]
  /** The stream holding the resources (default `FSTREAM`), created at start when missing. */
  readonly stream?: string
  /**
   * Replicas of the stream and of the lease bucket when they are created (default 1; 3 on a
   * cluster: an acknowledged byte then survives the loss of one node). An existing stream with
   * another number is refused at start.
   */
  readonly replicas?: number
  /**
   * How long an appender's lease lasts unless renewed, ms (default 10 000): after a server dies,
   * its resources can be appended to through another server once their leases lapse.
   */
  readonly leaseMs?: number
  /** A token for the NATS servers. */
  readonly token?: string
  /** A NATS credentials file's content (a JWT and an nkey seed). */
  readonly credentials?: string | Uint8Array
  /** Name of this connection, as the NATS servers show it (default `fstream-server`). */
  readonly name?: string
  /**
   * How long `init` waits for a cluster that is not ready (electing its leaders, without quorum,
   * peers just back and not placeable yet), ms (default 60 000).
   */
  readonly readyTimeoutMs?: number
}

/** What the NATS client modules are, loaded only when this storage is used. */
interface NatsModules {
  readonly transport: typeof import('@nats-io/transport-node')
  readonly jetstream: typeof import('@nats-io/jetstream')
  readonly kv: typeof import('@nats-io/kv')
}

async function loadNats(): Promise<NatsModules> {
  try {
    const [transport, jetstream, kv] = await Promise.all([
      import('@nats-io/transport-node'),
      import('@nats-io/jetstream'),
      import('@nats-io/kv'),
    ])
    return { transport, jetstream, kv }
  } catch (error) {
    throw new Error(
      'the NATS JetStream storage needs @nats-io/transport-node, @nats-io/jetstream and ' +
        `@nats-io/kv (npm install them beside @sluice/fstream-server): ${(error as Error).message}`,
      { cause: error },
    )
  }
}

/** Failures of a JetStream that is not ready yet (a cluster electing its leaders after a restart). */
const NOT_READY = new Set(['JetStreamNotEnabled', 'TimeoutError', 'NoRespondersError'])
/** "JetStream system temporarily unavailable": a cluster without a meta leader (no quorum). */
const CLUSTER_UNAVAILABLE = 10008
/** "Stream is offline": every peer of the stream is down (or not known again yet). */
const STREAM_OFFLINE = 10118
/**
 * "Insufficient resources": with "peer offline", peers just back whose stats the meta leader has
 * not had yet (up to 30 s); otherwise a placement that can never work (more replicas than nodes).
 */
const INSUFFICIENT_RESOURCES = 10005

function notReady(error: unknown): boolean {
  const code = apiCode(error)
  return (
    NOT_READY.has((error as Error).name) ||
    code === CLUSTER_UNAVAILABLE ||
    code === STREAM_OFFLINE ||
    (code === INSUFFICIENT_RESOURCES && /peer offline/.test((error as Error).message))
  )
}

/** Runs `attempt` until JetStream answers it (a cluster that is still starting), for a while. */
async function untilJetStreamAnswers<T>(timeoutMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await attempt()
    } catch (error) {
      if (!notReady(error) || Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
}

/** JetStream's "stream not found". */
const STREAM_NOT_FOUND = 10059

/** What a resource is now, from the last message of its subject. */
interface ResourceState {
  readonly last: ResourceMessage | undefined
  /** Its length; 0 when never written or deleted. */
  readonly size: number
  readonly exists: boolean
  /** The last append finished (an end marker is the last message). */
  readonly complete: boolean
}

function stateOf(last: ResourceMessage | undefined): ResourceState {
  const exists = last !== undefined && last.kind !== 'deleted'
  return {
    last,
    size: exists ? endOf(last) : 0,
    exists,
    complete: last?.kind === 'end',
  }
}

/**
 * Resources on NATS JetStream, shared by every fstream-server connected to the same stream: any
 * server appends to or follows any resource. A resource is one subject of the stream
 * (`<stream>.r.<base64url of its path>`), one message per piece of data (at most 896 KiB), each
 * with its byte offset and its appender; markers record a new appender (fence), a finished append
 * (end) and a deletion. One appender per resource across servers: a lease in a KV bucket with a
 * TTL (`<stream>_LEASES`), the expected last sequence of the subject on every publish, and
 * readers that check that bytes are contiguous and come from the fenced appender.
 *
 * An append's acknowledgement means JetStream acknowledged the bytes: held by a quorum of the
 * stream's replicas (nats-server 2.9's file store syncs to disk on a timer, not per message).
 */
export class JetStreamStorage implements ResourceStorage {
  readonly #options: JetStreamStorageOptions
  readonly #stream: string
  readonly #prefix: string
  #nats: NatsModules | undefined
  #connection: NatsConnection | undefined
  #js: JetStreamClient | undefined
  #manager: JetStreamManager | undefined
  #leases: KV | undefined
  /** This server's append sessions, by path. */
  readonly #appending = new Map<string, JetStreamAppend>()
  readonly #server = randomUUID().slice(0, 8)

  constructor(options: JetStreamStorageOptions) {
    if (options.servers.length === 0) throw new TypeError('the JetStream storage needs servers')
    this.#options = options
    this.#stream = options.stream ?? 'FSTREAM'
    if (!/^[A-Za-z0-9_-]+$/.test(this.#stream)) {
      throw new TypeError(
        `not a stream name for fstream: ${this.#stream} (letters, digits, _ and -)`,
      )
    }
    this.#prefix = `${this.#stream}.r`
  }

  /** The stream's name. */
  get stream(): string {
    return this.#stream
  }

  get appendingCount(): number {
    return this.#appending.size
  }

  async init(): Promise<void> {
    const nats = await loadNats()
    this.#nats = nats
    const { token, credentials } = this.#options
    const connection = await nats.transport.connect({
      servers: [...this.#options.servers],
      name: this.#options.name ?? 'fstream-server',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...(token === undefined ? {} : { token }),
      ...(credentials === undefined
        ? {}
        : {
            authenticator: nats.transport.credsAuthenticator(
              typeof credentials === 'string' ? new TextEncoder().encode(credentials) : credentials,
            ),
          }),
    })
    this.#connection = connection
    try {
      // The stream and the lease bucket together: a cluster still electing its leaders (or busy
      // creating an R3 bucket) may fail either step, and both are safe to repeat.
      const [manager, leases] = await untilJetStreamAnswers(
        this.#options.readyTimeoutMs ?? 60_000,
        async () => {
          const jsm = await nats.jetstream.jetstreamManager(connection)
          await this.#ensureStream(jsm)
          return [jsm, await this.#openLeases(nats, connection)] as const
        },
      )
      this.#manager = manager
      this.#leases = leases
      this.#js = nats.jetstream.jetstream(connection, { timeout: 5_000 })
    } catch (error) {
      await connection.close().catch(() => {})
      throw error
    }
  }

  async #openLeases(nats: NatsModules, connection: NatsConnection): Promise<KV> {
    const bucket = `${this.#stream}_LEASES`
    await new nats.kv.Kvm(connection).create(bucket, {
      ttl: this.#options.leaseMs ?? 10_000,
      replicas: this.#options.replicas ?? 1,
      history: 1,
    })
    // Reads of the leases go to the bucket's leader (replicas may lag behind).
    return new nats.kv.Kvm(connection).open(bucket, { allow_direct: false })
  }

  async #ensureStream(manager: JetStreamManager): Promise<void> {
    const subjects = [`${this.#prefix}.>`]
    const replicas = this.#options.replicas ?? 1
    let info: Awaited<ReturnType<JetStreamManager['streams']['info']>> | undefined
    try {
      info = await manager.streams.info(this.#stream)
    } catch (error) {
      if (apiCode(error) !== STREAM_NOT_FOUND) throw error
    }
    if (info === undefined) {
      await manager.streams.add({
        name: this.#stream,
        subjects,
        num_replicas: replicas,
        allow_direct: true,
        max_msg_size: 1024 * 1024,
      })
      return
    }
    const { config } = info
    const problems = [
      config.subjects?.includes(subjects[0] as string) ? undefined : `subjects ${config.subjects}`,
      config.num_replicas === replicas
        ? undefined
        : `${config.num_replicas} replicas, not ${replicas}`,
      config.allow_direct ? undefined : 'no allow_direct',
    ].filter((problem) => problem !== undefined)
    if (problems.length > 0) {
      throw new Error(
        `the stream ${this.#stream} exists with other settings: ${problems.join(', ')}`,
      )
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#appending.values()].map((append) => append.close(false)))
    await this.#connection?.drain().catch(() => {})
  }

  #ready(): { js: JetStreamClient; manager: JetStreamManager; leases: KV; nats: NatsModules } {
    if (!this.#js || !this.#manager || !this.#leases || !this.#nats) {
      throw new StorageError('the JetStream storage is not set up (init)')
    }
    return { js: this.#js, manager: this.#manager, leases: this.#leases, nats: this.#nats }
  }

  #subject(path: string): string {
    return `${this.#prefix}.${pathToken(path)}`
  }

  #message(stored: StoredMsg | null): ResourceMessage | undefined {
    return stored === null
      ? undefined
      : readMessage(stored.seq, stored.header, stored.data, stored.time)
  }

  /** The subject's last message, from the stream's leader (a replica may not have it yet). */
  async #last(subject: string): Promise<ResourceMessage | undefined> {
    const { manager } = this.#ready()
    return this.#message(await manager.streams.getMessage(this.#stream, { last_by_subj: subject }))
  }

  /**
   * The stream sequence to read from for the bytes from `offset`: the first message whose bytes
   * end past it, found by binary search over the subject (each message carries its offset). It
   * never overshoots (a replica behind the leader answers with less, the reader skips what it does
   * not need); past the last message, the sequence after it.
   */
  async #seqOf(subject: string, offset: number, last: ResourceMessage): Promise<number> {
    const { manager } = this.#ready()
    if (endOf(last) <= offset) return last.seq + 1
    // From the start: the subject's first message, wherever it is.
    if (offset === 0) return 1
    let low = 1
    let high = last.seq
    while (low < high) {
      const middle = Math.floor((low + high) / 2)
      const found = this.#message(
        await manager.direct.getMessage(this.#stream, { seq: middle, next_by_subj: subject }),
      )
      if (found === undefined || found.seq > high) high = middle
      else if (endOf(found) > offset) high = found.seq
      else low = found.seq + 1
    }
    return low
  }

  async openAppend(
    path: string,
    offset: number | undefined,
  ): Promise<AppendTarget | FstreamServerError> {
    const { js, manager, leases, nats } = this.#ready()
    const subject = this.#subject(path)
    const opened = await JetStreamAppend.open(
      {
        js,
        leases,
        headers: (): MsgHdrs => nats.transport.headers(),
        subject,
        key: pathToken(path),
        writer: `${this.#server}-${randomUUID().slice(0, 8)}`,
        leaseMs: this.#options.leaseMs ?? 10_000,
        last: () => this.#last(subject),
        purgeBefore: async (seq) => {
          await manager.streams.purge(this.#stream, { filter: subject, seq })
        },
        released: () => {
          if (this.#appending.get(path) === opened) this.#appending.delete(path)
        },
      },
      offset,
    )
    if (opened instanceof JetStreamAppend) this.#appending.set(path, opened)
    return opened
  }

  async openFollow(
    path: string,
    request: FollowRequest,
  ): Promise<FollowSource | FstreamServerError> {
    const { js } = this.#ready()
    const subject = this.#subject(path)
    const state = stateOf(await this.#last(subject))
    if (!state.exists) {
      if (!request.wait) return new ResourceNotFoundError()
      if (request.offset > 0) return new OffsetOutOfRangeError(0, request.offset)
    }
    if (request.offset > state.size) return new OffsetOutOfRangeError(state.size, request.offset)
    const start = request.offset < 0 ? Math.max(0, state.size + request.offset) : request.offset
    const last = state.last
    // A resource never written (or deleted) is waited for from its next message.
    const startSeq =
      last === undefined ? 1 : state.exists ? await this.#seqOf(subject, start, last) : last.seq + 1
    const done = state.complete && start >= state.size
    return {
      start,
      size: state.size,
      live: !state.complete,
      bytes: (signal) =>
        done
          ? (async function* () {})()
          : readResource({ js, stream: this.#stream, subject, startSeq, from: start, signal }),
      close: async () => {},
    }
  }

  async representation(path: string): Promise<Representation | FstreamServerError> {
    const { js } = this.#ready()
    const subject = this.#subject(path)
    const state = stateOf(await this.#last(subject))
    const last = state.last
    if (!state.exists || last === undefined) return new ResourceNotFoundError()
    const stream = this.#stream
    return {
      size: state.size,
      etag: `"${last.seq.toString(16)}-${state.size.toString(16)}"`,
      ...(last.time === undefined ? {} : { lastModified: last.time }),
      contentType: 'application/octet-stream',
      open: (from, until) => {
        const stop = new AbortController()
        // Looked up on the first read: a range dropped unread starts nothing that could fail.
        const startSeq = () => this.#seqOf(subject, from, last)
        const bytes = (async function* () {
          yield* readResource({
            js,
            stream,
            subject,
            startSeq: await startSeq(),
            from,
            until,
            signal: stop.signal,
          })
        })()
        const readable = Readable.from(bytes, { objectMode: false })
        readable.once('close', () => stop.abort())
        return readable
      },
    }
  }

  async delete(path: string): Promise<boolean | FstreamServerError> {
    const { js, manager, leases, nats } = this.#ready()
    const subject = this.#subject(path)
    const state = stateOf(await this.#last(subject))
    if (!state.exists) return false
    const headers = nats.transport.headers()
    headers.set(HEADER.offset, '0')
    headers.set(HEADER.kind, 'deleted')
    const marker = await js.publish(subject, Buffer.alloc(0), { headers })
    // What the resource held goes; the marker stays, for the followers that have not read it.
    await manager.streams.purge(this.#stream, { filter: subject, seq: marker.seq })
    // Its appender (on any server) loses the lease at its next renewal, and its next publish.
    await leases.delete(pathToken(path)).catch(() => {})
    this.#appending.get(path)?.lose(new ResourceGoneError('the resource was deleted'))
    return true
  }

  async list(prefix: string, limit: number): Promise<string[]> {
    const { manager } = this.#ready()
    const info = await manager.streams.info(this.#stream, { subjects_filter: `${this.#prefix}.>` })
    const found: string[] = []
    for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
      const path = tokenPath(subject.slice(this.#prefix.length + 1))
      if (path === undefined || !path.startsWith(`${prefix}/`)) continue
      // A deleted resource keeps one message, its marker.
      if (count === 1 && !stateOf(await this.#last(subject)).exists) continue
      found.push(path)
    }
    return found.sort().slice(0, limit)
  }
}
