import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CLOSE, PROTOCOL } from '@sluice/internal/fstream'
import { type CompletedRequest, measureExchange, type RequestObserver } from '@sluice/internal/http'
import { WebSocketServer } from 'ws'
import { runAppend } from './append.js'
import { type FstreamServerError, StorageError } from './errors.js'
import { runFollow } from './follow.js'
import {
  readSessionRequest,
  refuseUpgrade,
  type SessionRequest,
  type Tokens,
  verbOf,
} from './handshake.js'
import type { FstreamMetrics } from './metrics.js'
import { SessionSocket } from './session-socket.js'
import type { ResourceStorage } from './storage/index.js'

/** What the sessions of a server need to know. */
export interface SessionOptions {
  readonly storage: ResourceStorage
  /** Resolves once the storage is set up: sessions wait for it. */
  readonly ready: Promise<void>
  readonly tokens: Tokens
  readonly maxPayload: number
  readonly maxResourceSize: number
  readonly heartbeatMs: number
  readonly log: (message: string) => void
  readonly metrics: FstreamMetrics
  /** Told of every session request (the metrics' counters, an access log) when it starts and ends. */
  readonly observe: RequestObserver
}

/** An upgrade request (the 'upgrade' event's request, socket, head) and its one report. */
interface UpgradeRequest {
  readonly req: IncomingMessage
  readonly socket: Duplex
  readonly head: Buffer
  /** Reports the request as answered with `status` (101: the session ended); only the first call counts. */
  readonly end: (status: number) => void
  /** Something was written to the socket (an upgrade or httpfstream's 200): no refusal can follow. */
  answered: boolean
}

/** The client went away before its session began. */
class ClientLeftError extends Error {
  override name = 'ClientLeftError'
}

/**
 * httpfstream's answer to a follower when nobody appends: the content in a plain HTTP 200.
 * Resolves with the content's length; a resource that cannot be read is refused instead.
 */
async function sendContent(
  request: UpgradeRequest,
  storage: ResourceStorage,
  relative: string,
): Promise<number | FstreamServerError> {
  const content = await storage.representation(relative)
  if ('status' in content) return content
  const { size } = content
  const { socket } = request
  request.answered = true
  socket.write(
    `HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n` +
      `Content-Length: ${size}\r\n\r\n`,
  )
  if (size === 0) {
    content.release?.()
    socket.end()
    return 0
  }
  await pipeline(content.open(0, size - 1), socket)
  return size
}

/**
 * The WebSocket sessions of a server (fstream.v1 and httpfstream's legacy framing): upgrades are
 * checked (handshake, then the resource), refused with a plain HTTP answer, or run as an APPEND or
 * a FOLLOW. Every session's 'error' is listened to from its first moment and logged once.
 */
export class Sessions {
  readonly #options: SessionOptions
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
    // httpfstream's appender sends any bytes in text frames: legacy text is not UTF-8 checked.
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
    const request: UpgradeRequest = { req, socket, head, end, answered: false }
    this.#session(request).catch((error: Error) => {
      if (error instanceof ClientLeftError) {
        socket.destroy()
        end(0)
        return
      }
      this.#options.log(`session failed: ${error.message}`)
      if (request.answered || socket.destroyed) {
        socket.destroy()
        end(0)
        return
      }
      // Storage failed before anything was answered (a NATS request timed out): say so.
      const refusal = new StorageError(`cannot open the resource: ${error.message}`, {
        cause: error,
      })
      refuseUpgrade(socket, refusal)
      this.#options.metrics.countRefusal(verbOf(req) ?? 'unknown', refusal.status)
      end(refusal.status)
    })
  }

  /** Closes every session with 1001 (appenders' acknowledged data is stored). */
  close(): void {
    for (const server of [this.#v1, this.#legacy]) {
      for (const ws of server.clients) {
        ;(ws as SessionSocket).closeNow(CLOSE.goingAway, 'server shutting down')
      }
    }
  }

  async #session(request: UpgradeRequest): Promise<void> {
    await this.#options.ready
    const session = readSessionRequest(request.req, this.#options.tokens)
    const refusal =
      'status' in session
        ? session
        : session.verb === 'APPEND'
          ? await this.#append(session, request)
          : await this.#follow(session, request)
    if (refusal) {
      refuseUpgrade(request.socket, refusal)
      this.#options.metrics.countRefusal(verbOf(request.req) ?? 'unknown', refusal.status)
      request.end(refusal.status)
    }
  }

  /**
   * Completes the upgrade; the session's 'error' listener is attached at once, logging once, and
   * its end is counted with the close code the server sent.
   */
  #upgrade(session: SessionRequest, request: UpgradeRequest): Promise<SessionSocket> {
    const { req, socket, head } = request
    const server = session.framing.binaryData ? this.#v1 : this.#legacy
    const label = `${session.verb} /${session.relative}`
    const { metrics, log } = this.#options
    return new Promise<SessionSocket>((resolve, reject) => {
      // ws drops an upgrade whose socket is gone without calling back: say so, so that what the
      // session holds (a lease, an open resource) is let go.
      const left = () => reject(new ClientLeftError())
      if (socket.destroyed) return left()
      socket.once('close', left)
      server.handleUpgrade(req, socket, head, (ws) => {
        socket.off('close', left)
        request.answered = true
        const sessionSocket = ws as SessionSocket
        ws.on('error', (error: Error) => log(`${label} closed: ${error.message}`))
        if (session.verb === 'FOLLOW') metrics.followers.inc()
        ws.once('close', () => {
          if (session.verb === 'FOLLOW') metrics.followers.dec()
          metrics.countSession(session.verb, sessionSocket.sentCloseCode)
          request.end(101)
        })
        resolve(sessionSocket)
      })
    })
  }

  async #append(
    session: SessionRequest,
    request: UpgradeRequest,
  ): Promise<FstreamServerError | undefined> {
    const target = await this.#options.storage.openAppend(session.relative, session.offset)
    if ('status' in target) return target
    const ws = await this.#upgrade(session, request).catch(async (error: unknown) => {
      await target.close(false)
      throw error
    })
    const { maxResourceSize: maxSize, heartbeatMs, log, metrics } = this.#options
    const framing = session.framing
    const stored = (bytes: number) => metrics.countAppended(bytes)
    // The session runs on its own; it never rejects (its failures close it with their code).
    void runAppend(ws, target, { maxSize, heartbeatMs, log, framing, stored })
    return undefined
  }

  async #follow(
    session: SessionRequest,
    request: UpgradeRequest,
  ): Promise<FstreamServerError | undefined> {
    const { relative, framing } = session
    const { storage, log, metrics } = this.#options
    const source = await storage.openFollow(relative, {
      offset: session.offset ?? 0,
      wait: session.wait,
    })
    if ('status' in source) return source
    if (!framing.binaryData && !source.live) {
      await source.close()
      const sent = await sendContent(request, storage, relative)
      if (typeof sent !== 'number') return sent
      metrics.countFollowed(sent)
      request.end(200)
      return undefined
    }
    const ws = await this.#upgrade(session, request).catch(async (error: unknown) => {
      await source.close()
      throw error
    })
    await runFollow(ws, source, {
      framing,
      log,
      sent: (bytes: number) => metrics.countFollowed(bytes),
    })
    return undefined
  }
}
