import type { IncomingHttpHeaders } from 'node:http'
import { digestKeyForNodeAlgorithm, nodeAlgorithmForDigestKey } from './algorithms.js'
import { DigestMismatchError, InvalidHeaderError } from './errors.js'

/** A digest the client sent with the body, to be checked once the body is complete. */
export interface ExpectedDigest {
  /** The request header that carried it. */
  readonly header: 'content-digest' | 'repr-digest' | 'content-md5'
  /** The RFC 9530 key (`sha-256`), or `md5` for Content-MD5. */
  readonly key: string
  /** Node's name for the algorithm. */
  readonly algorithm: string
  readonly value: Buffer
}

/** What the request asked for and sent about digests (RFC 9530, RFC 1864). */
export interface DigestFields {
  readonly expected: readonly ExpectedDigest[]
  /** Node algorithms to answer in `Repr-Digest`. */
  readonly wantRepr: readonly string[]
  /** Node algorithms to answer in `Content-Digest`. */
  readonly wantContent: readonly string[]
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const KEY = /^[a-z*][a-z0-9_\-.*]*$/

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

/** Splits a structured-field dictionary into key/value members (values kept as raw text). */
function dictionaryMembers(name: string, value: string): Array<[string, string | undefined]> {
  const members: Array<[string, string | undefined]> = []
  for (const raw of value.split(',')) {
    const member = raw.trim()
    if (member === '') continue
    const eq = member.indexOf('=')
    const key = (eq === -1 ? member : member.slice(0, eq)).trim()
    if (!KEY.test(key)) throw new InvalidHeaderError(`malformed ${name} header: bad key "${key}"`)
    // Parameters (`;a=b`) after a value are allowed by RFC 8941 and carry nothing we use.
    const rest =
      eq === -1
        ? undefined
        : member
            .slice(eq + 1)
            .split(';')[0]
            ?.trim()
    members.push([key, rest])
  }
  return members
}

function parseDigestDictionary(
  header: 'content-digest' | 'repr-digest',
  value: string,
): ExpectedDigest[] {
  const digests: ExpectedDigest[] = []
  for (const [key, raw] of dictionaryMembers(header, value)) {
    const match = raw === undefined ? null : /^:([^:]*):$/.exec(raw)
    const base64 = match?.[1]
    if (base64 === undefined || !BASE64.test(base64)) {
      throw new InvalidHeaderError(`malformed ${header} header: "${key}" needs a :base64: value`)
    }
    const algorithm = nodeAlgorithmForDigestKey(key)
    // RFC 9530 §3: a recipient ignores algorithms it does not support.
    if (algorithm !== undefined) {
      digests.push({ header, key, algorithm, value: Buffer.from(base64, 'base64') })
    }
  }
  return digests
}

function parseWant(name: string, value: string | undefined): string[] {
  if (value === undefined) return []
  const wanted: string[] = []
  for (const [key, raw] of dictionaryMembers(name, value)) {
    const weight = raw === undefined ? 1 : Number(raw)
    if (!Number.isInteger(weight) || weight < 0 || weight > 10) {
      throw new InvalidHeaderError(`malformed ${name} header: "${key}" needs a weight from 0 to 10`)
    }
    const algorithm = nodeAlgorithmForDigestKey(key)
    if (weight > 0 && algorithm !== undefined && !wanted.includes(algorithm)) wanted.push(algorithm)
  }
  return wanted
}

/**
 * Reads Content-Digest, Repr-Digest and Content-MD5 (digests to verify) and Want-Repr-Digest /
 * Want-Content-Digest (digests to answer with).
 * @throws {InvalidHeaderError} when one of them is malformed.
 */
export function parseDigestFields(headers: IncomingHttpHeaders): DigestFields {
  const expected: ExpectedDigest[] = []
  for (const header of ['content-digest', 'repr-digest'] as const) {
    const value = headerValue(headers, header)
    if (value !== undefined) expected.push(...parseDigestDictionary(header, value))
  }
  const md5 = headerValue(headers, 'content-md5')?.trim()
  if (md5 !== undefined) {
    const bytes = Buffer.from(md5, 'base64')
    if (!BASE64.test(md5) || bytes.length !== 16) {
      throw new InvalidHeaderError('malformed Content-MD5 header: needs the base64 of 16 bytes')
    }
    expected.push({ header: 'content-md5', key: 'md5', algorithm: 'md5', value: bytes })
  }
  return {
    expected,
    wantRepr: parseWant('want-repr-digest', headerValue(headers, 'want-repr-digest')),
    wantContent: parseWant('want-content-digest', headerValue(headers, 'want-content-digest')),
  }
}

/**
 * Checks every expected digest against the computed ones.
 * @throws {DigestMismatchError} naming the header, the value sent and the value computed.
 */
export function verifyDigests(
  expected: readonly ExpectedDigest[],
  computed: ReadonlyMap<string, Buffer>,
): void {
  for (const digest of expected) {
    const actual = computed.get(digest.algorithm)
    if (actual === undefined) throw new Error(`digest ${digest.algorithm} was not computed`)
    if (!actual.equals(digest.value)) {
      const label =
        digest.header === 'content-md5' ? 'Content-MD5' : `${digest.header} ${digest.key}`
      throw new DigestMismatchError(
        `${label} mismatch: the request says ${digest.value.toString('base64')}, the body hashes to ${actual.toString('base64')}`,
      )
    }
  }
}

/** Formats an RFC 9530 dictionary (`sha-256=:…:, md5=:…:`) for the given Node algorithms. */
export function formatDigestField(
  algorithms: readonly string[],
  computed: ReadonlyMap<string, Buffer>,
): string {
  return algorithms
    .map((algorithm) => {
      const key = digestKeyForNodeAlgorithm(algorithm)
      const value = computed.get(algorithm)
      if (key === undefined || value === undefined) {
        throw new Error(`digest ${algorithm} was not computed`)
      }
      return `${key}=:${value.toString('base64')}:`
    })
    .join(', ')
}
