import type { IncomingMessage, ServerResponse } from 'node:http'

/** CORS policy: go-chunked-streaming-server's CORS JSON file (`AllowedOrigins`, `AllowedMethods`, `AllowedHeaders`). */
export interface CorsOptions {
  /** Origins allowed to read; `*` allows any (the request's own origin is still echoed). */
  readonly allowedOrigins: readonly string[]
  /** Methods allowed in preflights (default GET, HEAD, PUT, POST, DELETE, OPTIONS). */
  readonly allowedMethods?: readonly string[]
  /** Request headers allowed in preflights (default: those the preflight asks for). */
  readonly allowedHeaders?: readonly string[]
}

const EXPOSED = 'Content-Length, Content-Range, ETag, Waited-For-Data-Ms'

/** Reads a CORS JSON file as go-chunked-streaming-server writes it (`{"AllowedOrigins": [...], ...}`); throws naming what is wrong. */
export function parseCorsFile(text: string): CorsOptions {
  const json = JSON.parse(text) as Record<string, unknown>
  const list = (name: string): string[] | undefined => {
    const value = json[name]
    if (value === undefined) return undefined
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      throw new Error(`${name} must be an array of strings`)
    }
    return value as string[]
  }
  const allowedOrigins = list('AllowedOrigins')
  if (allowedOrigins === undefined) throw new Error('AllowedOrigins is required')
  const allowedMethods = list('AllowedMethods')
  const allowedHeaders = list('AllowedHeaders')
  return {
    allowedOrigins,
    ...(allowedMethods ? { allowedMethods } : {}),
    ...(allowedHeaders ? { allowedHeaders } : {}),
  }
}

/**
 * Adds CORS headers for an allowed Origin: that single origin is echoed (never a list, never `*`
 * with credentials) and `Vary: Origin` keeps caches honest. Answers a preflight (OPTIONS with
 * Access-Control-Request-Method) and returns true when it did.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, cors: CorsOptions): boolean {
  res.setHeader('Vary', 'Origin')
  const origin = req.headers.origin
  const allowed =
    origin !== undefined &&
    (cors.allowedOrigins.includes('*') || cors.allowedOrigins.includes(origin))
  if (allowed) {
    res.setHeader('Access-Control-Allow-Origin', origin)
    res.setHeader('Access-Control-Expose-Headers', EXPOSED)
  }
  if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) {
    return false
  }
  if (allowed) {
    const methods = cors.allowedMethods ?? ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS']
    res.setHeader('Access-Control-Allow-Methods', methods.join(', '))
    const asked = req.headers['access-control-request-headers']
    const headers = cors.allowedHeaders?.join(', ') ?? asked
    if (headers) res.setHeader('Access-Control-Allow-Headers', headers)
    res.setHeader('Access-Control-Max-Age', '600')
  }
  res.writeHead(allowed ? 204 : 403).end()
  return true
}
