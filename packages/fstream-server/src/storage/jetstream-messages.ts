import type { MsgHdrs } from '@nats-io/nats-core'

/**
 * How fstream resources are written in a JetStream stream: one subject per resource, one message
 * per piece of data, each carrying its byte offset and the appender that wrote it, plus three
 * markers without data: the fence a new appender writes first, the end of a finished append, and
 * the deletion of the resource.
 */
export const HEADER = {
  /** Byte offset of the message's first byte in the resource (data), or the resource's length (markers). */
  offset: 'Fstream-Offset',
  /** The append session that wrote it. */
  writer: 'Fstream-Writer',
  /** What the message is: absent for data, else a {@link MarkerKind}. */
  kind: 'Fstream-Kind',
} as const

/** Markers: `fence` (a new appender takes the resource over at its length), `end`, `deleted`. */
export type MarkerKind = 'fence' | 'end' | 'deleted'

/** A message of a resource's subject, read back. */
export interface ResourceMessage {
  readonly seq: number
  readonly kind: 'data' | MarkerKind
  readonly offset: number
  readonly writer: string
  readonly data: Uint8Array
  /** When JetStream stored it. */
  readonly time?: Date
}

/** Reads a stored message; throws when it is not one of ours (something else wrote the subject). */
export function readMessage(
  seq: number,
  header: MsgHdrs | undefined,
  data: Uint8Array,
  time?: Date,
): ResourceMessage {
  const kind = header?.get(HEADER.kind) || 'data'
  const offset = Number(header?.get(HEADER.offset))
  if (
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    (kind !== 'data' && kind !== 'fence' && kind !== 'end' && kind !== 'deleted')
  ) {
    throw new Error(`message ${seq} is not an fstream message (kind ${kind}, offset ${offset})`)
  }
  return {
    seq,
    kind,
    offset,
    writer: header?.get(HEADER.writer) ?? '',
    data,
    ...(time === undefined ? {} : { time }),
  }
}

/** The end of a message's bytes in the resource. */
export const endOf = (message: ResourceMessage): number => message.offset + message.data.length

/** Base64url of a resource path: a subject token and a KV key (no dots, no wildcards). */
export function pathToken(path: string): string {
  return Buffer.from(path, 'utf8').toString('base64url')
}

export function tokenPath(token: string): string | undefined {
  const path = Buffer.from(token, 'base64url').toString('utf8')
  return pathToken(path) === token ? path : undefined
}

/** The JetStream API error code of a failure (`JetStreamApiError.code`), if it has one. */
export function apiCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code
  return typeof code === 'number' ? code : undefined
}
