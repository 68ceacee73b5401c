import { readFile } from 'node:fs/promises'
import { fsReason } from '../fs/index.js'
import { UsageError } from './errors.js'

/**
 * The option grammar every sluice command line shares: one way to write a port, a count, a
 * duration, a byte size and an offset, and one way to say what is wrong with it.
 */

function whole(flag: string, text: string, what: string): number {
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new UsageError(`${flag}: "${text}" is not ${what}`)
  }
  return value
}

/** A TCP port, 0 to 65535 (0: a free one); required when there is no default. */
export function portOption(flag: string, text: string | undefined): number {
  if (text === undefined) throw new UsageError(`${flag} N is required`)
  const port = whole(flag, text, 'a TCP port')
  if (port > 65535) throw new UsageError(`${flag}: "${text}" is not a TCP port`)
  return port
}

/** A URL path the server answers on itself (a health check): absolute, no query. */
export function pathOption(flag: string, text: string): string {
  if (!/^\/[^?#\s]*$/.test(text))
    throw new UsageError(`${flag}: "${text}" is not a path like /health`)
  return text
}

/** A whole number, at least `min` (default 0). */
export function countOption(flag: string, text: string, min = 0): number {
  const value = whole(flag, text, 'a whole number')
  if (value < min) throw new UsageError(`${flag}: "${text}" is less than ${min}`)
  return value
}

/** A duration in milliseconds (a whole number). */
export function millisecondsOption(flag: string, text: string): number {
  return whole(flag, text, 'a number of milliseconds')
}

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
}

/**
 * A size in bytes: a whole number with an optional unit k, M, G or T (powers of 1024), with or
 * without `iB` or `B`, in any case: `1048576`, `1M`, `1MiB`, `512k`, `1T`.
 */
export function byteSizeOption(flag: string, text: string): number {
  const match = /^(\d+)\s*(?:([kmgt])(?:i?b)?|b)?$/i.exec(text.trim())
  const value = match ? Number(match[1]) * (UNITS[(match[2] ?? '').toLowerCase()] ?? 1) : Number.NaN
  if (!Number.isSafeInteger(value)) {
    throw new UsageError(`${flag}: "${text}" is not a byte size (like 1048576, 512k, 1M, 1GiB)`)
  }
  return value
}

/** A byte offset: a whole number, negative to count from the end. */
export function offsetOption(flag: string, text: string): number {
  const value = Number(text)
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new UsageError(
      `${flag}: "${text}" is not a byte offset (a whole number, negative from the end)`,
    )
  }
  return value
}

/**
 * A secret, from the first of: its flag's value (visible in `ps`: for tests and quick runs), the
 * file named by its `--…-file` flag (one line; a final newline is dropped), the environment
 * variable `env`. Undefined when none is given.
 */
export async function secretOption(
  flag: string,
  value: string | undefined,
  file: string | undefined,
  env: string,
): Promise<string | undefined> {
  // Where the secret came from, as the user wrote it: what an empty one is reported as.
  let source = flag
  let secret = value
  if (secret === undefined && file !== undefined) {
    source = `${flag}-file ${file}`
    try {
      secret = (await readFile(file, 'utf8')).replace(/\r?\n$/, '')
    } catch (error) {
      throw new UsageError(`${flag}-file: cannot read ${file}: ${(error as Error).message}`)
    }
  }
  if (secret === undefined) {
    source = `${env} (environment)`
    secret = process.env[env]
  }
  if (secret === '') throw new UsageError(`${source}: the secret is empty`)
  return secret
}

/** The content of the file a flag names (`--cert FILE`); a usage error naming both when unreadable. */
export async function readOption(flag: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (error) {
    throw new UsageError(`${flag}: cannot read ${file}: ${fsReason(error)}`)
  }
}
