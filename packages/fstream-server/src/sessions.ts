import { constants } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { openBeneath } from '@sluice/internal/fs'
import { CLOSE, PROTOCOL } from '@sluice/internal/fstream'
import { type CompletedRequest, measureExchange, type RequestObserver } from '@sluice/internal/http'
import { WebSocketServer } from 'ws'
import { runAppend } from './append.js'
import {
  AppendConflictError,
  type FstreamServerError,
  OffsetOutOfRangeError,
  ResourceNotFoundError,
  StorageError,
  SymbolicLinkError,
} from './errors.js'
import { runFollow } from './follow.js'
import {
  readSessionRequest,
  refuseUpgrade,
  type SessionRequest,
  type Tokens,
  verbOf,
} from './handshake.js'
import type { FstreamMetrics } from './metrics.js'
import { Registry } from './resources.js'
import { SessionSocket } from './session-socket.js'

/** What the sessions of a server need to know. */
export interface SessionOptions {
  readonly root: string
  readonly tokens: Tokens
  readonly maxPayload: number
  readonly maxResourceSize: number
  readonly heartbeatMs: number
  readonly log: (message: string) => void
  readonly metrics: FstreamMetrics
  /** Told of every session request (the metrics' counters, an access log) when it starts and ends. */
  readonly observe: RequestObserver
}

/** One session request as it is answered: reports it once to the observers. */
interface Exchange {
  readonly req: IncomingMessage
  readonly socket: Duplex
  readonly head: Buffer
  /** Reports the exchange as answered with `status` (101: the session ended); only the first call counts. */
  readonly end: (status: number) => void
}

/** Opens a resource for reading, without following a link; an error when it is not a file. */
export async function openResource(
  root: string,
  relative: string,
): Promise<FileHandle | FstreamServerError> {
  let file: FileHandle
  try {
    file = await openBeneath(root, relative, constants.O_RDONLY)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ELOOP') return new SymbolicLinkError()
    if (code === 'ENOENT' || code === 'ENOTDIR') return new ResourceNotFoundError()
    throw error
  }
  if (!(await file.stat()).isFile()) {
    await file.close()
    return new ResourceNotFoundError()
  }
  return file
}

/**
 * httpfstream's answer to a follower when nobody appends: the content in a plain HTTP 200.
 * Resolves with the content's length.
 */
async function sendContent(socket: Duplex, file: FileHandle): Promise<number> {
  const { size } = await file.stat()
  socket.write(
    `HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n` +
      `Content-Length: ${size}\r\n\r\n`,
  )
  if (size === 0) {
    await file.close()
    socket.end()
    return 0
  }
  await pipeline(file.createReadStream({ start: 0, end: size - 1, autoClose: true }), socket)
  return size
}

/** Opens a resource to append to, creating it (and its directories) only when that is asked. */
async function openForAppend(
  root: string,
  session: SessionRequest,
): Promise<FileHandle | FstreamServerError> {
  const flags = constants.O_WRONLY | constants.O_APPEND
  const refusal = (error: unknown) =>
    (error as NodeJS.ErrnoException).code === 'ELOOP'
      ? new SymbolicLinkError()
      : new AppendConflictError(`cannot append here: ${(error as Error).message}`)
  try {
    return await openBeneath(root, session.relative, flags)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return refusal(error)
    if ((session.offset ?? 0) !== 0) {
      return new AppendConflictError(`the resource is 0 bytes, not ${session.offset}`)
    }
  }
  try {
    return await openBeneath(root, session.relative, flags | constants.O_CREAT)
  } catch (error) {
    return refusal(error)
  }
}

/**
 * The WebSocket sessions of a server (fstream.v1 and httpfstream's legacy framing): upgrades are
 * checked (handshake, then the resource), refused with a plain HTTP answer, or run as an APPEND or
 * a FOLLOW. Every session's 'error' is listened to from its first moment and logged once.
 */
export class Sessions {
  readonly #options: SessionOptions
  readonly #registry = new Registry()
  readonly #v1: WebSocketServer
  readonly #legacy: WebSocketServer

  constructor(options: SessionOptions) {
    this.#options = options
    const common = {
      noServer: true,
      perMessageDeflate: false,
      maxPayload: options.maxPayload,
      WebSocket: SessionSocket,
    }
    this.#v1 = new WebSocketServer({
      ...common,
      handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
    })
    // Legacy text is checked by the session, which refuses non-UTF-8 with 1003 (not ws's 1007).
    this.#legacy = new WebSocketServer({ ...common, skipUTF8Validation: true })
  }

  /** The `'upgrade'` listener. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => {})
    const { observe } = this.#options
    observe.started?.(req)
    const measure = measureExchange(req, socket)
    let ended: CompletedRequest | undefined
    const end = (status: number) => {
      if (ended) return
      ended = measure(status)
      observe.finished(ended)
    }
    this.#session({ req, socket, head, end }).catch((error: Error) => {
      this.#options.log(`session failed: ${error.message}`)
      socket.destroy()
      end(0)
    })
  }

  /** How many resources have an appender now. */
  get appendingCount(): number {
    return this.#registry.appendingCount
  }

  /** Closes every session with 1001 (appenders' acknowledged data is on disk). */
  close(): void {
    for (const server of [this.#v1, this.#legacy]) {
      for (const ws of server.clients) {
        ;(ws as SessionSocket).closeNow(CLOSE.goingAway, 'server shutting down')
      }
    }
  }

  async #session(exchange: Exchange): Promise<void> {
    const session = readSessionRequest(exchange.req, this.#options.tokens)
    const refusal =
      'status' in session
        ? session
        : session.verb === 'APPEND'
          ? await this.#append(session, exchange)
          : await this.#follow(session, exchange)
    if (refusal) {
      refuseUpgrade(exchange.socket, refusal)
      this.#options.metrics.countRefusal(verbOf(exchange.req) ?? 'unknown', refusal.status)
      exchange.end(refusal.status)
    }
  }

  /**
   * Completes the upgrade; the session's 'error' listener is attached at once, logging once, and
   * its end is counted with the close code the server sent.
   */
  #upgrade(session: SessionRequest, exchange: Exchange): Promise<SessionSocket> {
    const { req, socket, head } = exchange
    const server = session.framing.binaryData ? this.#v1 : this.#legacy
    const label = `${session.verb} /${session.relative}`
    const { metrics, log } = this.#options
    return new Promise<SessionSocket>((resolve) =>
      server.handleUpgrade(req, socket, head, (ws) => {
        const sessionSocket = ws as SessionSocket
        ws.on('error', (error: Error) => log(`${label} closed: ${error.message}`))
        if (session.verb === 'FOLLOW') metrics.followers.inc()
        ws.once('close', () => {
          if (session.verb === 'FOLLOW') metrics.followers.dec()
          metrics.countSession(session.verb, sessionSocket.sentCloseCode)
          exchange.end(101)
        })
        resolve(sessionSocket)
      }),
    )
  }

  async #append(
    session: SessionRequest,
    exchange: Exchange,
  ): Promise<FstreamServerError | undefined> {
    const { relative } = session
    const registry = this.#registry
    if (!registry.reserve(relative)) return new AppendConflictError('another appender is active')
    const file = await openForAppend(this.#options.root, session)
    if ('status' in file) {
      registry.cancel(relative)
      return file
    }
    const info = await file.stat()
    const refusal = !info.isFile()
      ? new AppendConflictError('not a file')
      : session.offset !== undefined && session.offset !== info.size
        ? new AppendConflictError(`the resource is ${info.size} bytes, not ${session.offset}`)
        : undefined
    // What a previous session wrote but never synced (a crash, a restart) becomes durable now:
    // the `ready` offset of this session is one the appender can rely on.
    const synced = refusal ?? (await file.datasync().then(() => undefined, storageError))
    if (synced) {
      registry.cancel(relative)
      await file.close()
      return synced
    }
    const live = registry.activate(relative, info.size)
    const ws = await this.#upgrade(session, exchange)
    const { maxResourceSize: maxSize, heartbeatMs, log, metrics } = this.#options
    const framing = session.framing
    const stored = (bytes: number) => metrics.countAppended(bytes)
    // The session runs on its own; it never rejects (its failures close it with their code).
    void runAppend(ws, file, live, { maxSize, heartbeatMs, log, framing, stored }).finally(() =>
      registry.release(relative, live),
    )
    return undefined
  }

  async #follow(
    session: SessionRequest,
    exchange: Exchange,
  ): Promise<FstreamServerError | undefined> {
    const { relative, framing } = session
    const { root, log, metrics } = this.#options
    const registry = this.#registry
    const appending = () => registry.get(relative)
    const following = { framing, log, sent: (bytes: number) => metrics.countFollowed(bytes) }
    // ?wait=1: the resource appears with its first appender. Listen for it before looking on
    // disk, so that an appender who starts while we look is not missed.
    const gone = new AbortController()
    const arrival = session.wait ? registry.arrival(relative, gone.signal) : undefined
    const opened = await openResource(root, relative).catch((error: unknown) => {
      gone.abort()
      throw error
    })
    if ('status' in opened) {
      if (opened.status !== 404 || arrival === undefined) {
        gone.abort()
        return opened
      }
      if ((session.offset ?? 0) > 0) {
        gone.abort()
        return new OffsetOutOfRangeError(0, session.offset ?? 0)
      }
      // The connection going away (before or after the upgrade) ends the wait.
      const { socket } = exchange
      if (socket.destroyed) gone.abort()
      else socket.once('close', () => gone.abort())
      const ws = await this.#upgrade(session, exchange)
      if (!(await arrival)) return undefined
      const arrived = await openResource(root, relative)
      if ('status' in arrived) ws.close(CLOSE.internalError, arrived.message)
      else await runFollow(ws, arrived, 0, appending, following)
      return undefined
    }
    gone.abort()
    const size = appending()?.size ?? (await opened.stat()).size
    if ((session.offset ?? 0) > size) {
      await opened.close()
      return new OffsetOutOfRangeError(size, session.offset ?? 0)
    }
    if (!framing.binaryData && appending() === undefined) {
      metrics.countFollowed(await sendContent(exchange.socket, opened))
      exchange.end(200)
      return undefined
    }
    const ws = await this.#upgrade(session, exchange)
    await runFollow(ws, opened, session.offset ?? 0, appending, following)
    return undefined
  }
}

function storageError(error: unknown): FstreamServerError {
  return new StorageError(`cannot sync the resource: ${(error as Error).message}`, { cause: error })
}
