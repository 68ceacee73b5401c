import { parseArgs } from 'node:util'
import { append } from './append.js'
import { checkUrl, EXIT_CODES_HELP, fail, usage } from './cli-common.js'

const HELP = `Usage: fstream-append [-v] [--offset N] [--reconnect] [--token T] [--zero-mask] URL

Appends standard input to a resource of an fstream server, streaming, and exits once the server
has acknowledged every byte as durable.

  --offset N   append only if the resource is exactly N bytes long (resume after a failure)
  --reconnect  resume after a broken connection or a server restart (10 attempts), with no loss
               and no duplicate: bytes not yet acknowledged are kept (up to 16 MiB) and resent
  --token T    bearer token for a server that requires one
  --zero-mask  mask frames with an all-zero key: less CPU, for networks you trust (see README)
  -v           print the resource's size on stderr when done

${EXIT_CODES_HELP}`

/** Runs fstream-append; sets `process.exitCode`. */
export async function main(argv: string[]): Promise<void> {
  let url: string
  let values: {
    offset?: string | undefined
    reconnect: boolean
    token?: string | undefined
    'zero-mask': boolean
    v: boolean
    help: boolean
  }
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        offset: { type: 'string' },
        reconnect: { type: 'boolean', default: false },
        token: { type: 'string' },
        'zero-mask': { type: 'boolean', default: false },
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
    if (values.offset !== undefined && !/^\d+$/.test(values.offset)) {
      throw new Error(`--offset: "${values.offset}" is not a byte offset`)
    }
  } catch (error) {
    usage('fstream-append', (error as Error).message)
    return
  }
  try {
    const size = await append(url, process.stdin, {
      ...(values.offset === undefined ? {} : { offset: Number(values.offset) }),
      ...(values.token === undefined ? {} : { token: values.token }),
      zeroMask: values['zero-mask'],
      reconnect: values.reconnect,
    })
    if (values.v)
      process.stderr.write(`fstream-append: the resource is ${size} bytes, all acknowledged\n`)
  } catch (error) {
    fail('fstream-append', error)
  }
}
