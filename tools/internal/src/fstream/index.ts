/**
 * The fstream.v1 protocol, shared by the server and the client: names on the wire, control
 * messages, close codes. A resource is a URL path; sessions are WebSocket upgrades on it.
 */

/** The WebSocket subprotocol. A session that asks for none speaks httpfstream's legacy framing. */
export const PROTOCOL = 'fstream.v1'

/** The two kinds of session. */
export type Verb = 'APPEND' | 'FOLLOW'

/** The request header that names the verb (httpfstream's); `?verb=` does the same. */
export const VERB_HEADER = 'x-verb'

/** Query parameters of a session request. */
export const QUERY = {
  /** `APPEND` or `FOLLOW` (default FOLLOW). */
  verb: 'verb',
  /** APPEND: the length the resource must have. FOLLOW: where to start (negative: from the end). */
  offset: 'offset',
  /** FOLLOW: `1` waits for a resource that was never written. */
  wait: 'wait',
  /** A bearer token, for clients that cannot set headers (browsers). */
  token: 'token',
} as const

/** Close codes used by fstream sessions (RFC 6455 §7.4.1). */
export const CLOSE = {
  /** APPEND: every byte received is written, synced and acknowledged. FOLLOW: the follower has everything and nobody appends. */
  normal: 1000,
  /** The server is shutting down. */
  goingAway: 1001,
  /** A WebSocket protocol violation. */
  protocolError: 1002,
  /** Data of a kind the session cannot take (binary or non-UTF-8 data in legacy framing). */
  unsupportedData: 1003,
  /**
   * Never sent: what a side reports when the close frame it got or sent had no code
   * (RFC 6455 §7.1.5).
   */
  noStatus: 1005,
  /** Never sent: the connection ended without a close frame (dropped, terminated). */
  abnormal: 1006,
  /** A text frame that is not UTF-8. */
  invalidPayload: 1007,
  /** A message larger than the server takes, or a resource past its size limit. */
  tooBig: 1009,
  /** The server could not store or read the data. */
  internalError: 1011,
  /** APPEND: another appender took the resource over (this one had lost it: a stale session). */
  superseded: 4409,
  /** The resource was deleted (or removed by the storage's limits) during the session. */
  gone: 4410,
} as const

/** Messages the server sends in text frames (fstream.v1 only). */
export type ControlMessage =
  /** First message of every session: the absolute offset it starts at. */
  | { readonly type: 'ready'; readonly offset: number }
  /** APPEND: the first `offset` bytes of the resource are durable. */
  | { readonly type: 'ack'; readonly offset: number }

export function encodeControl(message: ControlMessage): string {
  return JSON.stringify(message)
}

/** Reads a control message; undefined when the text is not one (malformed JSON, unknown type). */
export function parseControl(text: string): ControlMessage | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { type, offset } = value as { type?: unknown; offset?: unknown }
  if (
    (type !== 'ready' && type !== 'ack') ||
    !Number.isSafeInteger(offset) ||
    (offset as number) < 0
  ) {
    return undefined
  }
  return { type, offset: offset as number }
}

/**
 * An offset query value: decimal digits with an optional leading minus, a safe integer.
 * Undefined when absent; 'invalid' for anything else (`0x10`, `+3`, `1e3`, empty).
 */
export function parseOffset(text: string | null): number | 'invalid' | undefined {
  if (text === null) return undefined
  if (!/^-?\d{1,16}$/.test(text)) return 'invalid'
  const value = Number(text)
  return Number.isSafeInteger(value) ? value : 'invalid'
}
