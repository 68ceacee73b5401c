import { secretOption, UsageError } from '@sluice/internal/cli'

/** Exit codes of the library's errors, shared by the fstream CLIs. */
export const EXIT_CODES: Readonly<Record<string, number>> = {
  FSTREAM_ERR_NOT_FOUND: 3,
  FSTREAM_ERR_UNAUTHORIZED: 4,
  FSTREAM_ERR_CONFLICT: 5,
  FSTREAM_ERR_OFFSET: 6,
  FSTREAM_ERR_GONE: 7,
}

export const EXIT_CODES_HELP = `Exit codes: 0 done (or --help, --version), 1 connection failed or the session broke, 2 bad
usage, 3 no such resource (404), 4 not authorized (401/403), 5 conflict (409: another appender,
--offset is not the resource's length, or what the server holds is not what was sent), 6 --offset
past the end of the resource (416), 7 the resource was deleted (410, or during the session).`

/** Help lines of the token options, shared by the fstream CLIs. */
export const TOKEN_HELP = `  --token T    bearer token for a server that requires one (or --token-file FILE, or
               FSTREAM_TOKEN in the environment: a token on the command line is visible to ps)`

/** The token options of the fstream CLIs. */
export const TOKEN_OPTIONS = {
  token: { type: 'string' },
  'token-file': { type: 'string' },
} as const

/** The bearer token: `--token`, else `--token-file`, else `FSTREAM_TOKEN`; undefined when none. */
export function tokenOption(values: {
  token?: string | undefined
  'token-file'?: string | undefined
}): Promise<string | undefined> {
  return secretOption('--token', values.token, values['token-file'], 'FSTREAM_TOKEN')
}

/** The resource URL: http(s) or ws(s). */
export function resourceUrl(url: string): string {
  if (!/^(https?|wss?):\/\//.test(url)) throw new UsageError(`not an http(s) or ws(s) URL: ${url}`)
  return url
}
