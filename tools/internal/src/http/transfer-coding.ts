import type { IncomingMessage } from 'node:http'

/**
 * The request's Transfer-Encoding when it names a coding other than `chunked` alone (`gzip,
 * chunked`, say), or undefined. Node removes the chunked framing but would hand over a body
 * still in the other codings: a server that does not decode them answers `501` (RFC 9112 §6.1).
 */
export function unsupportedTransferCoding(req: IncomingMessage): string | undefined {
  const header = req.headers['transfer-encoding']
  if (header === undefined) return undefined
  const codings = header
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '')
  return codings.length === 1 && codings[0] === 'chunked' ? undefined : header
}
