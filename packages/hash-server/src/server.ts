import { createServer, type Server } from 'node:http'
import { accessLog, hardenServer, type ServerTimeouts } from '@sluice/internal/http'
import { createHashHandler, type HashHandler, type HashHandlerOptions } from './handler.js'

/** Options of {@link createHashServer}: the handler's, plus timeouts against slow clients. */
export interface HashServerOptions extends HashHandlerOptions, ServerTimeouts {
  /** Time allowed for a whole request, ms; 0 = none (default 0: multi-GiB uploads take time). */
  readonly requestTimeout?: number
  /** A connection with no traffic for this long is closed, ms (default 60 000). */
  readonly idleTimeout?: number
  /**
   * Writes one JSON line per request (time, method, path, status, bytes in and out, duration,
   * remote address) to this file, appended to, or to standard output with `-` (default: none).
   */
  readonly accessLog?: string
}

/** The hash server: a node:http server whose handler (with its metrics) is `server.handler`. */
export interface HashServer extends Server {
  readonly handler: HashHandler
}

/**
 * Creates (does not start) an HTTP server answering digests of request bodies; see
 * {@link createHashHandler}. Call `listen()` on it. Request headers must arrive within
 * `headersTimeout` (default 30 s, else `408`); a client that half-closes after its request still
 * gets its answer; malformed requests get `400` with the parser's reason.
 *
 * @throws when `accessLog` names a file that cannot be opened
 * @example
 * createHashServer({ algorithms: 'md5,sha256' }).listen(8080, '127.0.0.1')
 */
export function createHashServer(options: HashServerOptions = {}): HashServer {
  // First: a log that cannot be opened throws before the store and tus are set up.
  const log = options.accessLog === undefined ? undefined : accessLog(options.accessLog)
  const handler = createHashHandler(options)
  const server = createServer()
  const track = hardenServer(server, { ...options, ...(log ? { observe: log } : {}) })
  server.requestTimeout = options.requestTimeout ?? 0
  server.timeout = options.idleTimeout ?? 60_000
  const listener = track(handler)
  server.on('request', listener)
  server.on('close', () => {
    handler.close().catch(() => {})
    log?.close()
  })
  server.on('checkContinue', (req, res) => {
    handler.expectsContinue(req)
    listener(req, res)
  })
  return Object.assign(server, { handler })
}
