import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { FstreamError } from './errors.js'
import { readResource } from './read-resource.js'

const HELP = `Usage: fstream-follow [--offset N] URL

Writes a resource of an fstream server to stdout, from byte N (default 0).

This version reads the resource's stored content with a plain GET and exits when it has all of
it; following live appends over WebSocket (fstream.v1) is not in it yet.

Exit codes: 0 done, 1 connection failed or the transfer broke, 2 bad usage,
3 no such resource (404), 4 not authorized (401/403).`

const EXIT_CODES: Readonly<Record<string, number>> = {
  FSTREAM_ERR_NOT_FOUND: 3,
  FSTREAM_ERR_UNAUTHORIZED: 4,
}

/** Runs fstream-follow; sets `process.exitCode`. */
export async function main(argv: string[]): Promise<void> {
  let url: string
  let offset: number
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        offset: { type: 'string', default: '0' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
    if (values.help) {
      process.stdout.write(`${HELP}\n`)
      return
    }
    if (positionals.length !== 1) throw new Error('expected exactly one URL')
    url = positionals[0] ?? ''
    if (!/^https?:\/\//.test(url)) throw new Error(`not an http(s) URL: ${url}`)
    offset = Number(values.offset)
    if (!/^\d+$/.test(values.offset))
      throw new Error(`--offset: "${values.offset}" is not a byte offset`)
  } catch (error) {
    process.stderr.write(
      `fstream-follow: ${(error as Error).message}\nTry 'fstream-follow --help'.\n`,
    )
    process.exitCode = 2
    return
  }
  try {
    await pipeline(await readResource(url, { offset }), process.stdout)
  } catch (error) {
    const code = error instanceof FstreamError ? (EXIT_CODES[error.code] ?? 1) : 1
    process.stderr.write(`fstream-follow: ${(error as Error).message}\n`)
    process.exitCode = code
  }
}
