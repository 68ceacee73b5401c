import { createReadStream, fstatSync } from 'node:fs'
import type { Readable } from 'node:stream'
import { countOption, packageVersion, runCommand } from '@sluice/internal/cli'
import { append } from './append.js'
import {
  EXIT_CODES,
  EXIT_CODES_HELP,
  resourceUrl,
  TOKEN_HELP,
  TOKEN_OPTIONS,
  tokenOption,
} from './cli-common.js'

const HELP = `Usage: fstream-append [-v] [--offset N] [--reconnect] [--token T | --token-file FILE] [--zero-mask] URL [URL…]

Appends standard input to a resource of an fstream server, streaming, and exits once the server
has acknowledged every byte as durable. Several URLs name the same resource on several servers
(sharing NATS JetStream): the first that answers is used, the next ones after a failure.

  --offset N   append only if the resource is exactly N bytes long (resume after a failure)
  --reconnect  resume after a broken connection or a server restart (10 attempts), with no loss
               and no duplicate: bytes not yet acknowledged are kept (up to 16 MiB) and resent
${TOKEN_HELP}
  --zero-mask  mask frames with an all-zero key: less CPU, for networks you trust (see README)
  -v           print the resource's size on stderr when done
  -h, --help   show this help
  --version    show the version

${EXIT_CODES_HELP}`

/**
 * Standard input, read 256 KiB at a time when it is a file (`< file`): each read is one message,
 * a quarter of the frames (and of the server's writes) of the 64 KiB reads of `process.stdin`.
 * A pipe or a terminal gives what it holds, as it arrives.
 */
function standardInput(): Readable {
  if (!fstatSync(0).isFile()) return process.stdin
  return createReadStream('', { fd: 0, highWaterMark: 256 * 1024, autoClose: false })
}

/** Runs fstream-append; sets `process.exitCode`. */
export function main(argv: readonly string[]): Promise<void> {
  return runCommand(
    {
      name: 'fstream-append',
      help: HELP,
      exitCodes: EXIT_CODES,
      positionals: { min: 1, max: 16, name: 'URL' },
      options: {
        offset: { type: 'string' },
        reconnect: { type: 'boolean', default: false },
        ...TOKEN_OPTIONS,
        'zero-mask': { type: 'boolean', default: false },
        v: { type: 'boolean', short: 'v', default: false },
      },
      async run({ values, positionals }) {
        const url = positionals.map(resourceUrl)
        const token = await tokenOption(values)
        const size = await append(url, standardInput(), {
          ...(values.offset === undefined
            ? {}
            : { offset: countOption('--offset', values.offset) }),
          ...(token === undefined ? {} : { token }),
          zeroMask: values['zero-mask'],
          reconnect: values.reconnect,
        })
        if (values.v) {
          process.stderr.write(`fstream-append: the resource is ${size} bytes, all acknowledged\n`)
        }
      },
    },
    argv,
    packageVersion(import.meta.url),
  )
}
