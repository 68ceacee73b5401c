import { randomBytes } from 'node:crypto'
import type { PreparedPart } from './parts.js'

const CRLF = Buffer.from('\r\n')

/** A boundary with 128 random bits: it cannot occur in the content by accident. */
export function createBoundary(): string {
  return `----sluice${randomBytes(16).toString('hex')}`
}

export function closingDelimiter(boundary: string): Buffer {
  return Buffer.from(`--${boundary}--\r\n`)
}

/** Exact body length when every part's size is known, else undefined (chunked upload). */
export function bodyLength(parts: readonly PreparedPart[], boundary: string): number | undefined {
  let total = closingDelimiter(boundary).length
  for (const part of parts) {
    if (part.size === undefined) return undefined
    total += part.header.length + part.size + CRLF.length
  }
  return total
}

/** Reports bytes handed to the connection. */
export type ChunkListener = (bytes: number, part: string | undefined) => void

/**
 * Yields one part: its header block, its content, the CRLF before the next delimiter. A chunk
 * counts as sent when the consumer asks for the next one (undici asks only once the previous
 * write was accepted by the socket), so `onSent` follows the socket, not the source.
 */
export async function* encodePart(
  part: PreparedPart,
  onSent: ChunkListener,
): AsyncGenerator<Uint8Array> {
  yield part.header
  onSent(part.header.length, part.name)
  for await (const chunk of part.open()) {
    if (chunk.length === 0) continue
    yield chunk
    onSent(chunk.length, part.name)
  }
  yield CRLF
  onSent(CRLF.length, part.name)
}

/** The whole multipart body for a fixed list of parts. */
export async function* encodeBody(
  parts: readonly PreparedPart[],
  boundary: string,
  onSent: ChunkListener,
): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield* encodePart(part, onSent)
  const closing = closingDelimiter(boundary)
  yield closing
  onSent(closing.length, undefined)
}
