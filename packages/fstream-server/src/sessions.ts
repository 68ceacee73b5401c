import { constants } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { openBeneath } from '@sluice/internal/fs'
import { CLOSE, PROTOCOL } from '@sluice/internal/fstream'
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
import { readSessionRequest, refuseUpgrade, type SessionRequest, type Tokens } from './handshake.js'
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

/** httpfstream's answer to a follower when nobody appends: the content in a plain HTTP 200. */
async function sendContent(socket: Duplex, file: FileHandle): Promise<void> {
  const { size } = await file.stat()
  socket.write(
    `HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n` +
      `Content-Length: ${size}\r\n\r\n`,
  )
  if (size === 0) {
    await file.close()
    socket.end()
    return
  }
  await pipeline(file.createReadStream({ start: 0, end: size - 1, autoClose: true }), socket)
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
    this.#session(req, socket, head).catch((error: Error) => {
      this.#options.log(`session failed: ${error.message}`)
      socket.destroy()
    })
  }

  /** Closes every session with 1001 (appenders' acknowledged data is on disk). */
  close(): void {
    for (const server of [this.#v1, this.#legacy]) {
      for (const ws of server.clients) {
        ;(ws as SessionSocket).closeNow(CLOSE.goingAway, 'server shutting down')
      }
    }
  }

  async #session(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const session = readSessionRequest(req, this.#options.tokens)
    const refusal =
      'status' in session
        ? session
        : session.verb === 'APPEND'
          ? await this.#append(session, req, socket, head)
          : await this.#follow(session, req, socket, head)
    if (refusal) refuseUpgrade(socket, refusal)
  }

  /** Completes the upgrade; the session's 'error' listener is attached at once, logging once. */
  #upgrade(session: SessionRequest, req: IncomingMessage, socket: Duplex, head: Buffer) {
    const server = session.framing.binaryData ? this.#v1 : this.#legacy
    const label = `${session.verb} /${session.relative}`
    return new Promise<SessionSocket>((resolve) =>
      server.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', (error: Error) => this.#options.log(`${label} closed: ${error.message}`))
        resolve(ws as SessionSocket)
      }),
    )
  }

  async #append(
    session: SessionRequest,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
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
    const ws = await this.#upgrade(session, req, socket, head)
    const { maxResourceSize: maxSize, heartbeatMs, log } = this.#options
    // The session runs on its own; it never rejects (its failures close it with their code).
    void runAppend(ws, file, live, { maxSize, heartbeatMs, log, framing: session.framing }).finally(
      () => registry.release(relative, live),
    )
    return undefined
  }

  async #follow(
    session: SessionRequest,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<FstreamServerError | undefined> {
    const { relative, framing } = session
    const { root, log } = this.#options
    const registry = this.#registry
    const appending = () => registry.get(relative)
    const opened = await openResource(root, relative)
    if ('status' in opened) {
      if (opened.status !== 404 || !session.wait) return opened
      // ?wait=1: the resource appears with its first appender.
      if ((session.offset ?? 0) > 0) return new OffsetOutOfRangeError(0, session.offset ?? 0)
      const ws = await this.#upgrade(session, req, socket, head)
      const gone = new AbortController()
      ws.once('close', () => gone.abort())
      if (!(await registry.arrival(relative, gone.signal))) return undefined
      const arrived = await openResource(root, relative)
      if ('status' in arrived) ws.close(CLOSE.internalError, arrived.message)
      else await runFollow(ws, arrived, 0, appending, framing, log)
      return undefined
    }
    const size = appending()?.size ?? (await opened.stat()).size
    if ((session.offset ?? 0) > size) {
      await opened.close()
      return new OffsetOutOfRangeError(size, session.offset ?? 0)
    }
    if (!framing.binaryData && appending() === undefined) {
      await sendContent(socket, opened)
      return undefined
    }
    const ws = await this.#upgrade(session, req, socket, head)
    await runFollow(ws, opened, session.offset ?? 0, appending, framing, log)
    return undefined
  }
}

function storageError(error: unknown): FstreamServerError {
  return new StorageError(`cannot sync the resource: ${(error as Error).message}`, { cause: error })
}
