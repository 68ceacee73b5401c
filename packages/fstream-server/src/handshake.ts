import type { IncomingMessage } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { rawPathOf, relativePathOf } from '@sluice/internal/fs'
import { PROTOCOL, parseOffset, QUERY, VERB_HEADER, type Verb } from '@sluice/internal/fstream'
import { bearerChallenge, carriesBearer } from '@sluice/internal/http'
import {
  BadSessionRequestError,
  type FstreamServerError,
  ResourceNotFoundError,
  UnauthorizedError,
} from './errors.js'
import { type Framing, LEGACY, V1 } from './framing.js'

/** A session request that passed every check that needs no file: what to run. */
export interface SessionRequest {
  readonly verb: Verb
  readonly framing: Framing
  /** The resource's path relative to the root (validated, `/`-separated). */
  readonly relative: string
  /** `?offset=`: APPEND the length required; FOLLOW where to start (negative: from the end). */
  readonly offset: number | undefined
  /** FOLLOW `?wait=1`: wait for a resource never written. */
  readonly wait: boolean
}

/** Answers a refused upgrade on the raw socket, with the reason phrase of its status, and ends it. */
export function refuseUpgrade(socket: Duplex, error: FstreamServerError): void {
  const body = `${error.message}\n`
  const challenge = error.status === 401 ? `WWW-Authenticate: ${bearerChallenge(REALM)}\r\n` : ''
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\nConnection: close\r\n${challenge}` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}

/** The realm named in `WWW-Authenticate` when a token is missing. */
export const REALM = 'fstream-server'

/** Tokens of a server: APPEND needs `append`, FOLLOW and GET need `follow` (when set). */
export interface Tokens {
  readonly append?: string | undefined
  readonly follow?: string | undefined
}

function verbText(req: IncomingMessage): string {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams.get(QUERY.verb)
  return String(req.headers[VERB_HEADER] ?? query ?? 'FOLLOW')
}

/** The verb a session request asks for (FOLLOW when it names none); undefined when unknown. */
export function verbOf(req: IncomingMessage): Verb | undefined {
  const verb = verbText(req).toUpperCase()
  return verb === 'APPEND' || verb === 'FOLLOW' ? verb : undefined
}

/**
 * Reads a WebSocket upgrade request: subprotocol (fstream.v1, or none for httpfstream's legacy
 * framing), resource path, verb, offset, wait, token.
 */
export function readSessionRequest(
  req: IncomingMessage,
  tokens: Tokens,
): SessionRequest | FstreamServerError {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const asked = req.headers['sec-websocket-protocol']
  const framing = asked === undefined ? LEGACY : V1
  if (asked !== undefined && !asked.split(',').some((name) => name.trim() === PROTOCOL)) {
    return new BadSessionRequestError(`ask for the WebSocket subprotocol ${PROTOCOL}`)
  }
  const relative = relativePathOf(rawPathOf(req.url))
  if (relative === undefined) return new ResourceNotFoundError()
  const verb = verbOf(req)
  if (verb === undefined) {
    return new BadSessionRequestError(`unknown verb ${verbText(req)}`)
  }
  if (!carriesBearer(req, verb === 'APPEND' ? tokens.append : tokens.follow, QUERY.token)) {
    return new UnauthorizedError(verb.toLowerCase())
  }
  const offset = parseOffset(url.searchParams.get(QUERY.offset))
  if (offset === 'invalid' || (verb === 'APPEND' && offset !== undefined && offset < 0)) {
    return new BadSessionRequestError(`?${QUERY.offset}= takes a whole number of bytes`)
  }
  return { verb, framing, relative, offset, wait: url.searchParams.get(QUERY.wait) === '1' }
}
