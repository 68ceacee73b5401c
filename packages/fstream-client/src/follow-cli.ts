import { pipeline } from 'node:stream/promises'
import { offsetOption, packageVersion, runCommand } from '@sluice/internal/cli'
import {
  EXIT_CODES,
  EXIT_CODES_HELP,
  resourceUrl,
  TOKEN_HELP,
  TOKEN_OPTIONS,
  tokenOption,
} from './cli-common.js'
import { follow } from './follow.js'

const HELP = `Usage: fstream-follow [-v] [--offset N] [--wait] [--reconnect] [--token T | --token-file FILE] URL [URL…]

Writes a resource of an fstream server to stdout from byte N (negative: from the end), then
every byte appended to it live, until the server says the resource is complete (nobody appends).
Several URLs name the same resource on several servers (sharing NATS JetStream): the first that
answers is used, the next ones after a failure (with --reconnect).

  --offset N   start at byte N (default 0; -100 = the last 100 bytes)
  --wait       wait for a resource that was never written instead of exiting 3
  --reconnect  resume after a broken connection (10 attempts), with no gap and no duplicate
${TOKEN_HELP}
  -v           say on stderr when the resource is complete
  -h, --help   show this help
  --version    show the version

${EXIT_CODES_HELP}`

/** Runs fstream-follow; sets `process.exitCode`. */
export function main(argv: readonly string[]): Promise<void> {
  return runCommand(
    {
      name: 'fstream-follow',
      help: HELP,
      exitCodes: EXIT_CODES,
      positionals: { min: 1, max: 16, name: 'URL' },
      options: {
        offset: { type: 'string', default: '0' },
        wait: { type: 'boolean', default: false },
        reconnect: { type: 'boolean', default: false },
        ...TOKEN_OPTIONS,
        v: { type: 'boolean', short: 'v', default: false },
      },
      async run({ values, positionals }) {
        const url = positionals.map(resourceUrl)
        const token = await tokenOption(values)
        await pipeline(
          follow(url, {
            offset: offsetOption('--offset', values.offset),
            wait: values.wait,
            reconnect: values.reconnect,
            ...(token === undefined ? {} : { token }),
          }),
          process.stdout,
        )
        if (values.v) process.stderr.write('fstream-follow: the resource is complete\n')
      },
    },
    argv,
    packageVersion(import.meta.url),
  )
}
