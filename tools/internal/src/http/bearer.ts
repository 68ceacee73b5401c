import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/** Compares two secrets in time independent of where they differ (and of their lengths). */
function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected))
}

/**
 * Whether the request carries `token`: `Authorization: Bearer <token>`, or, when `queryName` is
 * given, `?<queryName>=<token>` (for clients that cannot set headers: browsers' WebSocket, `<video>`).
 * Always true when no token is set.
 */
export function carriesBearer(
  req: IncomingMessage,
  token: string | undefined,
  queryName?: string,
): boolean {
  if (token === undefined) return true
  const header = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')
  if (header?.[1] !== undefined && sameSecret(header[1], token)) return true
  if (queryName === undefined) return false
  const query = new URL(req.url ?? '/', 'http://x').searchParams.get(queryName)
  return query !== null && sameSecret(query, token)
}

/** The `WWW-Authenticate` value of a 401 answered to a request without the right bearer token. */
export function bearerChallenge(realm: string): string {
  return `Bearer realm="${realm}"`
}
