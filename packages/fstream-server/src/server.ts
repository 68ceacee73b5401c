import { mkdir, open, stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { dirname } from 'node:path'
import type { Duplex } from 'node:stream'
import { resolveUnderRoot, serveFile } from '@sluice/internal-http'
import { WebSocketServer } from 'ws'
import { runAppend } from './append.js'
import { runFollow } from './follow.js'
import { Registry } from './resources.js'

/** The WebSocket subprotocol of this server. */
export const PROTOCOL = 'fstream.v1'

/** Options of {@link createFstreamServer}. */
export interface FstreamServerOptions {
  /** Directory holding the resources; a resource `/a/b` is the file `<root>/a/b`. */
  readonly root: string
  /** Largest resource in bytes; an APPEND past it is closed with 1009 (default: no limit). */
  readonly maxResourceSize?: number
  /** Largest WebSocket message accepted, bytes (default 16 MiB). */
  readonly maxPayload?: number
  /** Ping period; an appender that misses a pong is dropped (default 30 000 ms). */
  readonly heartbeatMs?: number
  /** Bearer token required to APPEND (`Authorization: Bearer T` or `?token=T`). */
  readonly appendToken?: string
  /** Bearer token required to FOLLOW and GET. */
  readonly followToken?: string
}

/** The request and upgrade listeners, to mount on any node:http server. */
export interface FstreamHandlers {
  handleRequest(req: IncomingMessage, res: ServerResponse): void
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Closes every WebSocket session (appenders' acknowledged data is on disk). */
  close(): void
}

function answer(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${message}\n`)
}

/** Refuses an upgrade with a plain HTTP answer before any WebSocket handshake. */
function refuse(socket: Duplex, status: number, reason: string, message: string): void {
  const body = `${message}\n`
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}

function authorized(req: IncomingMessage, url: URL, token: string | undefined): boolean {
  if (token === undefined) return true
  return req.headers.authorization === `Bearer ${token}` || url.searchParams.get('token') === token
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path)
    return info.isFile() ? info.size : undefined
  } catch {
    return undefined
  }
}

/**
 * The fstream.v1 handlers. APPEND (`X-Verb: APPEND` or `?verb=APPEND`) and FOLLOW are WebSocket
 * upgrades with the `fstream.v1` subprotocol; plain GET/HEAD answers the stored content.
 */
export function createHandlers(options: FstreamServerOptions): FstreamHandlers {
  const registry = new Registry()
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: options.maxPayload ?? 16 * 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  })
  const appendOptions = {
    maxSize: options.maxResourceSize ?? Number.POSITIVE_INFINITY,
    heartbeatMs: options.heartbeatMs ?? 30_000,
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
    const path = resolveUnderRoot(options.root, url.pathname)
    if (path === undefined) {
      answer(res, 404, 'no such resource')
      return
    }
    serveFile(req, res, path).then(
      (served) => {
        if (!served) answer(res, 404, 'no such resource')
      },
      (error: Error) => {
        if (res.headersSent) res.destroy(error)
        else answer(res, 500, 'cannot read the resource')
      },
    )
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const asked = req.headers['sec-websocket-protocol']
    const offered = (asked ?? '').split(',').map((p) => p.trim())
    // No subprotocol at all: httpfstream's own clients, spoken to in their text framing.
    const legacy = asked === undefined
    if (!legacy && !offered.includes(PROTOCOL)) {
      return refuse(socket, 400, 'Bad Request', `ask for the WebSocket subprotocol ${PROTOCOL}`)
    }
    const path = resolveUnderRoot(options.root, url.pathname)
    if (path === undefined) return refuse(socket, 404, 'Not Found', 'no such resource')
    const verb = String(
      req.headers['x-verb'] ?? url.searchParams.get('verb') ?? 'FOLLOW',
    ).toUpperCase()
    if (verb === 'APPEND') {
      if (!authorized(req, url, options.appendToken)) {
        return refuse(socket, 401, 'Unauthorized', 'a valid token is needed to append')
      }
      const size = (await sizeOf(path)) ?? 0
      const wanted = url.searchParams.get('offset')
      if (wanted !== null && Number(wanted) !== size) {
        return refuse(socket, 409, 'Conflict', `the resource is ${size} bytes, not ${wanted}`)
      }
      const resource = registry.claim(path, size)
      if (resource === undefined) {
        return refuse(socket, 409, 'Conflict', 'another appender is active')
      }
      let file: Awaited<ReturnType<typeof open>>
      try {
        await mkdir(dirname(path), { recursive: true })
        file = await open(path, 'a')
        registry.announce(path)
      } catch (error) {
        registry.release(path, resource)
        return refuse(socket, 409, 'Conflict', `cannot append here: ${(error as Error).message}`)
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        runAppend(ws, file, resource, { ...appendOptions, legacy }).finally(() =>
          registry.release(path, resource),
        )
      })
      return
    }
    if (verb !== 'FOLLOW') return refuse(socket, 400, 'Bad Request', `unknown verb ${verb}`)
    if (!authorized(req, url, options.followToken)) {
      return refuse(socket, 401, 'Unauthorized', 'a valid token is needed to follow')
    }
    const offset = Number(url.searchParams.get('offset') ?? 0)
    if (!Number.isSafeInteger(offset)) return refuse(socket, 400, 'Bad Request', 'bad offset')
    const wait = url.searchParams.get('wait') === '1'
    if ((await sizeOf(path)) === undefined && !wait) {
      return refuse(socket, 404, 'Not Found', 'no such resource')
    }
    wss.handleUpgrade(req, socket, head, async (ws) => {
      if ((await sizeOf(path)) === undefined) {
        // ?wait=1: the resource appears with its first appender.
        const arrived = await new Promise<boolean>((resolve) => {
          const onArrival = (claimed: string) => {
            if (claimed !== path) return
            registry.arrivals.off('claimed', onArrival)
            resolve(true)
          }
          registry.arrivals.on('claimed', onArrival)
          ws.once('close', () => {
            registry.arrivals.off('claimed', onArrival)
            resolve(false)
          })
        })
        if (!arrived) return
      }
      const file = await open(path, 'r').catch(() => undefined)
      if (file === undefined) {
        ws.close(1011, 'cannot read the resource')
        return
      }
      await runFollow(ws, file, path, offset, () => registry.get(path), legacy)
    })
  }

  return {
    handleRequest,
    handleUpgrade: (req, socket, head) => {
      socket.on('error', () => {})
      upgrade(req, socket, head).catch(() => socket.destroy())
    },
    close: () => {
      for (const ws of wss.clients) ws.close(1001, 'server shutting down')
    },
  }
}

/** Creates (does not start) an HTTP server for the resources under `options.root`. */
export function createFstreamServer(options: FstreamServerOptions): Server {
  const handlers = createHandlers(options)
  const server = createServer(handlers.handleRequest)
  server.on('upgrade', handlers.handleUpgrade)
  server.on('close', handlers.close)
  return server
}

/** A plain request listener: GET/HEAD of stored resources only (no upgrades). */
export function createRequestHandler(
  options: FstreamServerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  return createHandlers(options).handleRequest
}
