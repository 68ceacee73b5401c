import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { resolveUnderRoot, serveFile } from '@sluice/internal-http'

/** Options of {@link createFstreamServer}. */
export interface FstreamServerOptions {
  /** Directory holding the resources; a resource `/a/b` is the file `<root>/a/b`. */
  readonly root: string
}

/** A node:http request listener serving the stored resources. */
export type FstreamRequestHandler = (req: IncomingMessage, res: ServerResponse) => void

function answer(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${message}\n`)
}

/**
 * Serves resources as plain HTTP: `GET`/`HEAD /path` answers the stored content of the resource
 * (Content-Length, ETag, one Range, If-None-Match), `404` for a resource never written and for
 * directories (never a listing). Paths are decoded and normalised; anything that would leave the
 * root (`..`, encoded slashes or backslashes, NUL) is `404` too.
 */
export function createRequestHandler(options: FstreamServerOptions): FstreamRequestHandler {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      answer(res, 405, `${req.method} is not supported here`)
      return
    }
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname
    const path = resolveUnderRoot(options.root, pathname)
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
}

/** Creates (does not start) an HTTP server for the resources under `options.root`. */
export function createFstreamServer(options: FstreamServerOptions): Server {
  return createServer(createRequestHandler(options))
}
