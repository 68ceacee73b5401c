import { createServer, type Server } from 'node:http'
import { createHashHandler, type HashHandler, type HashHandlerOptions } from './handler.js'

/** Options of {@link createHashServer}: the handler's, plus timeouts against slow clients. */
export interface HashServerOptions extends HashHandlerOptions {
  /** Time allowed to receive the request line and headers, ms (default 30 000). */
  readonly headersTimeout?: number
  /** Time allowed for a whole request, ms; 0 = none (default 0: multi-GiB uploads take time). */
  readonly requestTimeout?: number
  /** A connection with no traffic for this long is closed, ms (default 60 000). */
  readonly idleTimeout?: number
}

/** The hash server: a node:http server whose handler (with its metrics) is `server.handler`. */
export interface HashServer extends Server {
  readonly handler: HashHandler
}

/**
 * Creates (does not start) an HTTP server answering digests of request bodies; see
 * {@link createHashHandler}. Call `listen()` on it.
 *
 * @example
 * createHashServer({ algorithms: 'md5,sha256' }).listen(8080, '127.0.0.1')
 */
export function createHashServer(options: HashServerOptions = {}): HashServer {
  const handler = createHashHandler(options)
  const server = createServer(
    {
      headersTimeout: options.headersTimeout ?? 30_000,
      requestTimeout: options.requestTimeout ?? 0,
      keepAliveTimeout: 5_000,
      // Node checks headers/request timeouts on this period (default 30 s, too coarse for them).
      connectionsCheckingInterval: 1_000,
    },
    handler,
  )
  server.timeout = options.idleTimeout ?? 60_000
  server.on('close', () => {
    handler.close().catch(() => {})
  })
  server.on('checkContinue', (req, res) => {
    handler.expectsContinue(req)
    handler(req, res)
  })
  return Object.assign(server, { handler })
}
