import { stat } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { readCommandLine, serveUntilSignal } from '@sluice/internal/cli'
import { createFstreamServer } from './server.js'

const HELP = `Usage: fstream-server --root DIR [--host 127.0.0.1] [--port 8080] [--token T]

Live resources under DIR. One appender at a time writes to a resource over a WebSocket
(subprotocol fstream.v1, header X-Verb: APPEND or ?verb=APPEND); any number of followers read it
live (?offset=N, negative from the end; ?wait=1 for a resource not written yet); GET/HEAD /path
answers the stored content (Range supported), 404 if it was never written. Never lists
directories; nothing outside DIR can be reached.

Options:
  --root DIR             directory of the resources (required)
  --host HOST            address to listen on (default 127.0.0.1)
  --port N               port (default 8080; 0 picks a free one)
  --token T              bearer token required to append (header or ?token=)
  --follow-token T       bearer token required to follow and GET
  --max-size BYTES       largest resource (default: no limit)
  --headers-timeout MS   time allowed to send request headers (default 30000; then 408)
  -h, --help             show this help

Prints "fstream-server listening on URL" once it accepts connections; SIGTERM/SIGINT stop it.
Exit codes: 0 stopped by a signal or --help, 1 could not start, 2 bad usage.`

class UsageError extends Error {}

async function readOptions(argv: string[]) {
  let values: {
    root?: string | undefined
    host: string
    port: string
    token?: string | undefined
    'follow-token'?: string | undefined
    'max-size'?: string | undefined
    'headers-timeout': string
    help: boolean
  }
  try {
    values = parseArgs({
      args: argv,
      options: {
        root: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '8080' },
        token: { type: 'string' },
        'follow-token': { type: 'string' },
        'max-size': { type: 'string' },
        'headers-timeout': { type: 'string', default: '30000' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  if (values.help) return undefined
  if (values.root === undefined) throw new UsageError('--root DIR is required')
  const info = await stat(values.root).catch(() => undefined)
  if (!info?.isDirectory()) throw new UsageError(`--root: ${values.root} is not a directory`)
  const port = Number(values.port)
  if (!/^\d+$/.test(values.port) || port > 65535)
    throw new UsageError(`--port: "${values.port}" is not a TCP port`)
  const maxSize = values['max-size']
  if (maxSize !== undefined && !/^\d+$/.test(maxSize)) {
    throw new UsageError(`--max-size: "${maxSize}" is not a byte count`)
  }
  const headersTimeout = values['headers-timeout']
  if (!/^\d+$/.test(headersTimeout)) {
    throw new UsageError(`--headers-timeout: "${headersTimeout}" is not a number of milliseconds`)
  }
  return {
    host: values.host,
    port,
    server: {
      root: values.root,
      headersTimeout: Number(headersTimeout),
      ...(values.token === undefined ? {} : { appendToken: values.token }),
      ...(values['follow-token'] === undefined ? {} : { followToken: values['follow-token'] }),
      ...(maxSize === undefined ? {} : { maxResourceSize: Number(maxSize) }),
    },
  }
}

/** Runs the fstream-server command line; sets `process.exitCode` on failure. */
export async function main(argv: string[]): Promise<void> {
  const options = await readCommandLine('fstream-server', HELP, () => readOptions(argv))
  if (options === undefined) return
  try {
    await serveUntilSignal(createFstreamServer(options.server), {
      name: 'fstream-server',
      host: options.host,
      port: options.port,
    })
  } catch (error) {
    process.stderr.write(`fstream-server: cannot start: ${(error as Error).message}\n`)
    process.exitCode = 1
  }
}
