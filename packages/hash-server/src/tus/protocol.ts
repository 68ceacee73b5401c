import type { IncomingMessage } from 'node:http'
import { InvalidHeaderError } from '../errors.js'

/** The tus version spoken, and the extensions served (tus 1.0, tus.io/protocols/resumable-upload). */
export const TUS_VERSION = '1.0.0'
export const TUS_EXTENSIONS = [
  'creation',
  'creation-with-upload',
  'creation-defer-length',
  'termination',
  'expiration',
  'checksum',
] as const

/** `Upload-Checksum` algorithms (tus names, which are also Node's). */
export const CHECKSUM_ALGORITHMS = ['sha1', 'md5', 'sha256'] as const

/** The only body type a PATCH (and a creation-with-upload POST) may carry. */
export const OFFSET_CONTENT_TYPE = 'application/offset+octet-stream'

/** tus's status for a checksum that does not match ("Checksum Mismatch"). */
export const CHECKSUM_MISMATCH_STATUS = 460

/** A request header as one string (repeated ones joined by commas); `name` in lower case. */
export function headerText(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value.join(',') : value
}

/** A non-negative integer header (`Upload-Offset`, `Upload-Length`), undefined when absent. */
export function byteCountHeader(req: IncomingMessage, name: string): number | undefined {
  const value = headerText(req, name.toLowerCase())?.trim()
  if (value === undefined) return undefined
  const count = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(count)) {
    throw new InvalidHeaderError(`malformed ${name} header: needs a whole number of bytes`)
  }
  return count
}

/** Whether the request's body is the tus octet stream (media type parameters allowed). */
export function isOffsetStream(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  return type === OFFSET_CONTENT_TYPE
}

/** Whether the request carries a body (a declared non-zero length, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/**
 * `Upload-Metadata`: comma-separated `key base64value` pairs (value optional), keys unique, without
 * spaces or commas. Returns the decoded values (an empty string for a key alone).
 */
export function parseUploadMetadata(value: string | undefined): Map<string, string> {
  const metadata = new Map<string, string>()
  if (value === undefined || value.trim() === '') return metadata
  for (const pair of value.split(',')) {
    const match = /^\s*([^\s,]+)(?: +([A-Za-z0-9+/]*={0,2}))?\s*$/.exec(pair)
    const key = match?.[1]
    if (key === undefined) {
      throw new InvalidHeaderError(
        `malformed Upload-Metadata header: "${pair.trim()}" is not "key base64value"`,
      )
    }
    if (metadata.has(key)) {
      throw new InvalidHeaderError(`malformed Upload-Metadata header: "${key}" appears twice`)
    }
    metadata.set(key, Buffer.from(match?.[2] ?? '', 'base64').toString('utf8'))
  }
  return metadata
}

/** `Upload-Checksum: <algorithm> <base64>` of one PATCH; undefined when absent. */
export interface UploadChecksum {
  readonly algorithm: string
  readonly value: Buffer
}

/**
 * Parses `Upload-Checksum`.
 * @throws {InvalidHeaderError} when it is malformed or names an algorithm not served (400).
 */
export function parseUploadChecksum(req: IncomingMessage): UploadChecksum | undefined {
  const header = headerText(req, 'upload-checksum')
  if (header === undefined) return undefined
  const match = /^\s*(\S+) +([A-Za-z0-9+/]+={0,2})\s*$/.exec(header)
  const algorithm = match?.[1]?.toLowerCase()
  if (algorithm === undefined || match?.[2] === undefined) {
    throw new InvalidHeaderError('malformed Upload-Checksum header: needs "<algorithm> <base64>"')
  }
  if (!(CHECKSUM_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new InvalidHeaderError(
      `unsupported Upload-Checksum algorithm "${algorithm}"; supported: ${CHECKSUM_ALGORITHMS.join(', ')}`,
    )
  }
  return { algorithm, value: Buffer.from(match[2], 'base64') }
}
