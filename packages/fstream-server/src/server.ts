import { constants } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { openBeneath, rawPathOf, relativePathOf } from '@sluice/internal/fs'
import { CLOSE, PROTOCOL } from '@sluice/internal/fstream'
import {
  closeSessionsOnClose,
  createHttpServer,
  type ServerTimeouts,
  serveFile,
} from '@sluice/internal/http'
import { WebSocketServer } from 'ws'
import { runAppend } from './append.js'
import { runFollow } from './follow.js'
import { authorized, Refusal, readSessionRequest, type SessionRequest } from './handshake.js'
import { Registry } from './resources.js'
import { SessionSocket } from './session-socket.js'

/** The WebSocket subprotocol of this server. */
export { PROTOCOL }

/** Options of {@link createFstreamServer}. */
export interface FstreamServerOptions extends ServerTimeouts {
  /** Directory holding the resources; a resource `/a/b` is the file `<root>/a/b`. */
  readonly root: string
  /** Largest resource in bytes; an APPEND past it is closed with 1009 (default: no limit). */
  readonly maxResourceSize?: number
  /** Largest WebSocket message accepted, bytes (default 16 MiB); a larger one closes with 1009. */
  readonly maxPayload?: number
  /** Ping period; an appender that misses a pong is dropped (default 30 000 ms). */
  readonly heartbeatMs?: number
  /** Bearer token required to APPEND (`Authorization: Bearer T` or `?token=T`). */
  readonly appendToken?: string
  /** Bearer token required to FOLLOW and GET. */
  readonly followToken?: string
  /**
   * Where a session's protocol violation or storage failure is reported, one line each (default:
   * standard error). The session is closed with its code; the server goes on.
   */
  readonly log?: (message: string) => void
}

/** The request and upgrade listeners, to mount on any node:http server. */
export interface FstreamHandlers {
  handleRequest(req: IncomingMessage, res: ServerResponse): void
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Closes every WebSocket session (appenders' acknowledged data is on disk). */
  close(): void
}

function answer(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${message}\n`)
}

const SYMLINK = 'the resource is a symbolic link; links are never followed'

/** Opens a resource for reading; a Refusal when it does not exist or is not a regular file. */
async function openResource(root: string, relative: string): Promise<FileHandle | Refusal> {
  let file: FileHandle
  try {
    file = await openBeneath(root, relative, constants.O_RDONLY)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ELOOP') return new Refusal(403, SYMLINK)
    if (code === 'ENOENT' || code === 'ENOTDIR') return new Refusal(404, 'no such resource')
    throw error
  }
  if (!(await file.stat()).isFile()) {
    await file.close()
    return new Refusal(404, 'no such resource')
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

/**
 * The fstream.v1 handlers. APPEND (`X-Verb: APPEND` or `?verb=APPEND`) and FOLLOW are WebSocket
 * upgrades with the `fstream.v1` subprotocol (none: httpfstream's legacy framing); plain GET/HEAD
 * answers the stored content. Symbolic links below the root are never followed.
 */
export function createHandlers(options: FstreamServerOptions): FstreamHandlers {
  const { root } = options
  const registry = new Registry()
  const log = options.log ?? ((message) => process.stderr.write(`fstream-server: ${message}\n`))
  const serverOptions = {
    noServer: true,
    perMessageDeflate: false,
    maxPayload: options.maxPayload ?? 16 * 1024 * 1024,
    WebSocket: SessionSocket,
  }
  const v1 = new WebSocketServer({
    ...serverOptions,
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  })
  // Legacy text is checked by the session, which refuses non-UTF-8 with 1003 (not ws's 1007).
  const legacy = new WebSocketServer({ ...serverOptions, skipUTF8Validation: true })
  const tokens = { append: options.appendToken, follow: options.followToken }
  const appendOptions = {
    maxSize: options.maxResourceSize ?? Number.POSITIVE_INFINITY,
    heartbeatMs: options.heartbeatMs ?? 30_000,
    log,
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      answer(res, 405, `${req.method} is not supported here`)
      return
    }
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (!authorized(req, url, options.followToken)) {
      answer(res, 401, 'a valid token is needed')
      return
    }
    const relative = relativePathOf(rawPathOf(req.url))
    if (relative === undefined) {
      answer(res, 404, 'no such resource')
      return
    }
    serveFile(req, res, root, relative).then(
      (unservable) => {
        if (unservable === 'symlink') answer(res, 403, SYMLINK)
        else if (unservable !== undefined) answer(res, 404, 'no such resource')
      },
      (error: Error) => {
        log(`GET ${relative} failed: ${error.message}`)
        answer(res, 500, 'cannot read the resource')
      },
    )
  }

  /** Completes the upgrade; the session's 'error' listener is attached at once, logging once. */
  function upgrade(
    server: WebSocketServer,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    label: string,
  ): Promise<SessionSocket> {
    return new Promise((resolve) =>
      server.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', (error: Error) => log(`${label} closed: ${error.message}`))
        resolve(ws as SessionSocket)
      }),
    )
  }

  async function append(
    session: SessionRequest,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<Refusal | undefined> {
    const { relative } = session
    if (!registry.reserve(relative)) return new Refusal(409, 'another appender is active')
    let file: FileHandle
    try {
      file = await openBeneath(root, relative, constants.O_WRONLY | constants.O_APPEND)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'ENOENT' || (session.offset ?? 0) !== 0) {
        registry.cancel(relative)
        if (code === 'ENOENT')
          return new Refusal(409, `the resource is 0 bytes, not ${session.offset}`)
        if (code === 'ELOOP') return new Refusal(403, SYMLINK)
        return new Refusal(409, `cannot append here: ${(error as Error).message}`)
      }
      try {
        file = await openBeneath(
          root,
          relative,
          constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
        )
      } catch (created) {
        registry.cancel(relative)
        if ((created as NodeJS.ErrnoException).code === 'ELOOP') return new Refusal(403, SYMLINK)
        return new Refusal(409, `cannot append here: ${(created as Error).message}`)
      }
    }
    const info = await file.stat()
    const refusal = !info.isFile()
      ? new Refusal(409, 'not a file')
      : session.offset !== undefined && session.offset !== info.size
        ? new Refusal(409, `the resource is ${info.size} bytes, not ${session.offset}`)
        : undefined
    if (refusal) {
      registry.cancel(relative)
      await file.close()
      return refusal
    }
    // What a previous session wrote but never synced (a crash, a restart) becomes durable now:
    // the `ready` offset of this session is one the appender can rely on.
    try {
      await file.datasync()
    } catch (error) {
      registry.cancel(relative)
      await file.close()
      return new Refusal(500, `cannot sync the resource: ${(error as Error).message}`)
    }
    const resource = registry.activate(relative, info.size)
    const server = session.framing.binaryData ? v1 : legacy
    const ws = await upgrade(server, req, socket, head, `APPEND /${relative}`)
    runAppend(ws, file, resource, { ...appendOptions, framing: session.framing }).finally(() =>
      registry.release(relative, resource),
    )
    return undefined
  }

  async function follow(
    session: SessionRequest,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<Refusal | undefined> {
    const { relative, framing } = session
    let opened = await openResource(root, relative)
    if (opened instanceof Refusal && !(opened.status === 404 && session.wait)) return opened
    if (opened instanceof Refusal) {
      if ((session.offset ?? 0) > 0) {
        return new Refusal(
          416,
          `the resource is 0 bytes: offset ${session.offset} does not exist yet`,
        )
      }
      // ?wait=1: the resource appears with its first appender.
      const ws = await upgrade(v1, req, socket, head, `FOLLOW /${relative}`)
      const gone = new AbortController()
      ws.once('close', () => gone.abort())
      if (!(await registry.arrival(relative, gone.signal))) return undefined
      opened = await openResource(root, relative)
      if (opened instanceof Refusal) {
        ws.close(CLOSE.internalError, opened.message)
        return undefined
      }
      await runFollow(ws, opened, 0, () => registry.get(relative), framing, log)
      return undefined
    }
    const file = opened
    const size = registry.get(relative)?.size ?? (await file.stat()).size
    if ((session.offset ?? 0) > size) {
      await file.close()
      return new Refusal(
        416,
        `the resource is ${size} bytes: offset ${session.offset} does not exist yet`,
      )
    }
    if (!framing.binaryData && registry.get(relative) === undefined) {
      await sendContent(socket, file)
      return undefined
    }
    const server = framing.binaryData ? v1 : legacy
    const ws = await upgrade(server, req, socket, head, `FOLLOW /${relative}`)
    await runFollow(ws, file, session.offset ?? 0, () => registry.get(relative), framing, log)
    return undefined
  }

  async function handleSession(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const session = readSessionRequest(req, tokens)
    const refusal =
      session instanceof Refusal
        ? session
        : session.verb === 'APPEND'
          ? await append(session, req, socket, head)
          : await follow(session, req, socket, head)
    refusal?.send(socket)
  }

  return {
    handleRequest,
    handleUpgrade: (req, socket, head) => {
      socket.on('error', () => {})
      handleSession(req, socket, head).catch((error: Error) => {
        log(`session failed: ${error.message}`)
        socket.destroy()
      })
    },
    close: () => {
      for (const server of [v1, legacy]) {
        for (const ws of server.clients) {
          ;(ws as SessionSocket).closeNow(CLOSE.goingAway, 'server shutting down')
        }
      }
    },
  }
}

/**
 * Creates (does not start) an HTTP server for the resources under `options.root`. Request
 * headers must arrive within `headersTimeout` (default 30 s, else `408`).
 */
export function createFstreamServer(options: FstreamServerOptions): Server {
  const handlers = createHandlers(options)
  const server = createHttpServer(handlers.handleRequest, options)
  server.on('upgrade', handlers.handleUpgrade)
  closeSessionsOnClose(server, handlers.close)
  return server
}

/** A plain request listener: GET/HEAD of stored resources only (no upgrades). */
export function createRequestHandler(
  options: FstreamServerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  return createHandlers(options).handleRequest
}
