import { FstreamError } from './errors.js'

/** Exit codes shared by the fstream CLIs. */
const EXIT_CODES: Readonly<Record<string, number>> = {
  FSTREAM_ERR_NOT_FOUND: 3,
  FSTREAM_ERR_UNAUTHORIZED: 4,
  FSTREAM_ERR_CONFLICT: 5,
}

export const EXIT_CODES_HELP = `Exit codes: 0 done, 1 connection failed or the session broke, 2 bad usage,
3 no such resource (404), 4 not authorized (401/403), 5 conflict (409: another appender, or
--offset is not the resource's length).`

/** Prints `name: message` and sets the exit code for an error of the library. */
export function fail(name: string, error: unknown): void {
  const code = error instanceof FstreamError ? (EXIT_CODES[error.code] ?? 1) : 1
  process.stderr.write(`${name}: ${(error as Error).message}\n`)
  process.exitCode = code
}

/** Prints a usage error and sets exit code 2. */
export function usage(name: string, message: string): void {
  process.stderr.write(`${name}: ${message}\nTry '${name} --help'.\n`)
  process.exitCode = 2
}

export function checkUrl(url: string | undefined): string {
  if (url === undefined) throw new Error('expected exactly one URL')
  if (!/^(https?|wss?):\/\//.test(url)) throw new Error(`not an http(s) or ws(s) URL: ${url}`)
  return url
}
