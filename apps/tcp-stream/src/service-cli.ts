import { parseArgs } from 'node:util'
import { readCommandLine, serveUntilSignal } from '@sluice/internal/cli'
import { countOption, portOption, UsageError } from './cli-options.js'
import { createStreamService } from './service.js'

const HELP = `Usage: tcp-stream-service --port N [--host 127.0.0.1] [--max-frame-size BYTES]

A TCP service reading length-prefixed frames (an 8-byte little-endian length, then the bytes).
Each frame is hashed as it arrives and answered with an ack frame carrying JSON
{"size":N,"sha256":"hex"}; a frame over the limit gets {"error":"…"} and the connection closes.

Options:
  --port N                port (required; 0 picks a free one)
  --host HOST             address to listen on (default 127.0.0.1)
  --max-frame-size BYTES  largest frame accepted (default 68719476736, 64 GiB)
  -h, --help              show this help

Prints "tcp-stream-service listening on tcp://HOST:PORT"; SIGTERM/SIGINT stop it.
Exit codes: 0 stopped by a signal or --help, 1 could not start, 2 bad usage.`

function readOptions(argv: string[]) {
  let values: {
    port?: string | undefined
    host: string
    'max-frame-size'?: string | undefined
    help: boolean
  }
  try {
    values = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        'max-frame-size': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  if (values.help) return undefined
  const port = portOption('port', values.port)
  const maxFrameSize = countOption('max-frame-size', values['max-frame-size'])
  return {
    host: values.host,
    port,
    service: maxFrameSize === undefined ? {} : { maxFrameSize },
  }
}

const options = await readCommandLine('tcp-stream-service', HELP, () =>
  readOptions(process.argv.slice(2)),
)
if (options !== undefined) {
  await serveUntilSignal(createStreamService(options.service), {
    name: 'tcp-stream-service',
    scheme: 'tcp',
    host: options.host,
    port: options.port,
  }).catch((error: unknown) => {
    process.stderr.write(`tcp-stream-service: cannot start: ${(error as Error).message}\n`)
    process.exitCode = 1
  })
}
