import { createHash, getHashes } from 'node:crypto'
import { UnsupportedAlgorithmError } from './errors.js'

let supported: readonly string[] | undefined

/**
 * Hash algorithms usable with `createHash` in this Node build, lower-case and sorted. Aliases that
 * OpenSSL lists but cannot instantiate (or that need options) are left out.
 */
export function supportedAlgorithms(): readonly string[] {
  supported ??= [...new Set(getHashes().map((name) => name.toLowerCase()))]
    // Signature-scheme aliases (RSA-SHA256, sha256WithRSAEncryption, ssl3-md5…) name a hash that
    // is already listed under its own name.
    .filter((name) => !/rsa|^ssl3-|^id-/.test(name))
    .filter((name) => {
      try {
        createHash(name).digest()
        return true
      } catch {
        return false
      }
    })
    .sort()
  return supported
}

/**
 * Parses a comma-separated list (`md5,sha256`) into distinct, supported algorithm names.
 * @throws {UnsupportedAlgorithmError} naming the unknown algorithm and listing the supported ones.
 */
export function parseAlgorithms(list: string): string[] {
  const names = [
    ...new Set(
      list
        .split(',')
        .map((name) => name.trim().toLowerCase())
        .filter((name) => name !== ''),
    ),
  ]
  if (names.length === 0) throw new UnsupportedAlgorithmError('no hash algorithm was named')
  const known = supportedAlgorithms()
  for (const name of names) {
    if (!known.includes(name)) {
      throw new UnsupportedAlgorithmError(
        `unsupported hash algorithm "${name}"; supported: ${known.join(', ')}`,
      )
    }
  }
  return names
}

/**
 * RFC 9530 Hash Algorithms registry keys and the Node algorithms that compute them. `md5` and
 * `sha` are registered as deprecated but still seen in the wild, so they are checked too.
 */
const RFC9530_ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ['sha-256', 'sha256'],
  ['sha-512', 'sha512'],
  ['md5', 'md5'],
  ['sha', 'sha1'],
])

/** The Node algorithm behind an RFC 9530 key, or undefined when the server does not compute it. */
export function nodeAlgorithmForDigestKey(key: string): string | undefined {
  return RFC9530_ALGORITHMS.get(key)
}

/** The RFC 9530 key for a Node algorithm, or undefined when it has none. */
export function digestKeyForNodeAlgorithm(algorithm: string): string | undefined {
  for (const [key, node] of RFC9530_ALGORITHMS) if (node === algorithm) return key
  return undefined
}
