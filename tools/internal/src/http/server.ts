import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http'
import type { Http2SecureServer } from 'node:http2'
import type { Duplex } from 'node:stream'
import { observeRequest, type RequestObserver } from './observe.js'
import { reportParseError } from './parse-error.js'

/** Timeouts every sluice HTTP server applies against slow or silent clients. */
export interface ServerTimeouts {
  /** Watches every request (metrics, access log); see `observers()`. */
  readonly observe?: RequestObserver
  /**
   * Time allowed to receive a request's line and headers, ms (default 30 000). A client that is
   * slower gets `408` and its connection is closed. 0 turns it off (not advised).
   */
  readonly headersTimeout?: number
  /** How long an idle keep-alive connection stays open after a response, ms (default 5 000). */
  readonly keepAliveTimeout?: number
}

/** The default time allowed for a request's headers, ms. */
export const DEFAULT_HEADERS_TIMEOUT = 30_000

/** Node's llhttp errors carry the parser's own words in `reason`. */
interface ParseError extends Error {
  readonly code?: string
  readonly reason?: string
}

function refusalOf(error: ParseError, headersTimeout: number): [number, string] {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'the request headers are too large']
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'the chunk extensions are too large']
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, `the request headers did not arrive within ${headersTimeout} ms`]
    default: {
      const detail = error.reason ?? error.message
      return [400, `malformed HTTP request: ${detail}${error.code ? ` (${error.code})` : ''}`]
    }
  }
}

type AnyServer = Server | Http2SecureServer

/**
 * Makes a node:http (or node:http2 with HTTP/1.1 fallback) server safe against the habits of real
 * clients and the tricks of bad ones:
 * - a headers timeout (`408`), and no whole-request timeout: multi-GiB uploads take their time;
 * - a client that half-closes after a complete request (ffmpeg's HTTP PUT, `Connection: close`)
 *   still gets its answer: Node would otherwise abort such a request before reading its body;
 * - a request the parser refuses (malformed chunked body, bad header) is answered with a reason
 *   in plain text, unless a response has already started on that connection, then it is cut.
 *
 * Wrap the request listener with the returned function so that the server knows which
 * connections have a response under way.
 */
export function hardenServer(
  server: AnyServer,
  options: ServerTimeouts = {},
): <L extends RequestListener>(listener: L) => L {
  const headersTimeout = options.headersTimeout ?? DEFAULT_HEADERS_TIMEOUT
  const tunable = server as AnyServer & {
    headersTimeout: number
    requestTimeout: number
    keepAliveTimeout?: number
    connectionsCheckingInterval: number
    httpAllowHalfOpen: boolean
  }
  tunable.headersTimeout = headersTimeout
  tunable.requestTimeout = 0
  if ('keepAliveTimeout' in tunable) tunable.keepAliveTimeout = options.keepAliveTimeout ?? 5_000
  // Node checks the headers timeout on this period (30 s by default: far too coarse for it).
  tunable.connectionsCheckingInterval = Math.max(250, Math.min(1_000, headersTimeout / 2 || 1_000))
  // Undocumented but stable since Node 0.x: when false, Node aborts every request on a connection
  // the client half-closed, even a complete one whose body is still unread.
  tunable.httpAllowHalfOpen = true

  // Connections whose current response has sent its head: a parse error there cannot be
  // answered without corrupting what the client is reading.
  const answering = new WeakMap<Duplex, ServerResponse>()
  const refused = new WeakSet<Duplex>()
  server.on('clientError', (error: ParseError, socket: Duplex) => {
    socket.on('error', () => {})
    if (refused.has(socket)) return
    refused.add(socket)
    const current = answering.get(socket)
    // The request in flight learns first, so that what it holds (an upload, a key) is released
    // before the client can read the answer and come back.
    const req = current?.req
    if (req !== undefined && !req.complete) reportParseError(req, error)
    if (!socket.writable || error.code === 'ECONNRESET' || current?.headersSent) {
      socket.destroy()
      return
    }
    const [status, reason] = refusalOf(error, headersTimeout)
    const body = `${reason}\n`
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
        `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    )
    // What the client still sends is not read any more: give it a moment to read the answer.
    setTimeout(() => socket.destroy(), 1_000).unref()
  })

  const { observe } = options
  return <L extends RequestListener>(listener: L): L => {
    const tracked = (req: IncomingMessage, res: ServerResponse) => {
      if (observe) observeRequest(req, res, observe)
      if (req.httpVersionMajor === 1) {
        const socket = req.socket
        answering.set(socket, res)
        res.once('close', () => {
          if (answering.get(socket) === res) answering.delete(socket)
        })
      }
      listener(req, res)
    }
    return tracked as L
  }
}

/**
 * A node:http server with {@link hardenServer}'s defaults: headers timeout, half-closing clients
 * answered, parser refusals explained.
 */
export function createHttpServer(listener: RequestListener, options: ServerTimeouts = {}): Server {
  const server = createServer()
  const track = hardenServer(server, options)
  server.on('request', track(listener))
  return server
}

/**
 * Makes `server.close()` also call `closeSessions` at once: close() waits for every connection,
 * and what still holds one (a WebSocket session, no longer the HTTP server's to close; a request
 * held open on purpose) must be told as soon as the server stops accepting, not after it drains.
 */
export function closeSessionsOnClose(server: AnyServer, closeSessions: () => void): void {
  const stopAccepting = server.close.bind(server)
  server.close = ((callback?: (error?: Error) => void) => {
    closeSessions()
    return stopAccepting(callback)
  }) as typeof server.close
}
