import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { checkUrl, EXIT_CODES_HELP, fail, usage } from './cli-common.js'
import { follow } from './follow.js'

const HELP = `Usage: fstream-follow [-v] [--offset N] [--wait] [--reconnect] [--token T] URL

Writes a resource of an fstream server to stdout from byte N (negative: from the end), then
every byte appended to it live, until the server says the resource is complete (nobody appends).

  --offset N   start at byte N (default 0; -100 = the last 100 bytes)
  --wait       wait for a resource that was never written instead of exiting 3
  --reconnect  resume after a broken connection (10 attempts), with no gap and no duplicate
  --token T    bearer token for a server that requires one
  -v           say on stderr when the resource is complete

${EXIT_CODES_HELP}`

/** Runs fstream-follow; sets `process.exitCode`. */
export async function main(argv: string[]): Promise<void> {
  let url: string
  let values: {
    offset: string
    wait: boolean
    reconnect: boolean
    token?: string | undefined
    v: boolean
    help: boolean
  }
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      allowNegative: false,
      options: {
        offset: { type: 'string', default: '0' },
        wait: { type: 'boolean', default: false },
        reconnect: { type: 'boolean', default: false },
        token: { type: 'string' },
        v: { type: 'boolean', short: 'v', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
    values = parsed.values
    if (values.help) {
      process.stdout.write(`${HELP}\n`)
      return
    }
    if (parsed.positionals.length !== 1) throw new Error('expected exactly one URL')
    url = checkUrl(parsed.positionals[0])
    if (!/^-?\d+$/.test(values.offset))
      throw new Error(`--offset: "${values.offset}" is not a byte offset`)
  } catch (error) {
    usage('fstream-follow', (error as Error).message)
    return
  }
  try {
    await pipeline(
      follow(url, {
        offset: Number(values.offset),
        wait: values.wait,
        reconnect: values.reconnect,
        ...(values.token === undefined ? {} : { token: values.token }),
      }),
      process.stdout,
    )
    if (values.v) process.stderr.write('fstream-follow: the resource is complete\n')
  } catch (error) {
    fail('fstream-follow', error)
  }
}
