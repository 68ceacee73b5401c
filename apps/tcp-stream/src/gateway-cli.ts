import { parseArgs } from 'node:util'
import { readCommandLine, serveUntilSignal } from '@sluice/internal/cli'
import { BackendSpecError, parseBackendSpec } from './backends.js'
import { countOption, portOption, UsageError } from './cli-options.js'
import { createGateway } from './gateway.js'

const HELP = `Usage: tcp-stream-gateway --port N --backends host:port,…|srv:NAME [options]

An HTTP gateway in front of tcp-stream-service backends.
  GET  /health          200 while a backend is healthy, 503 otherwise (JSON with each backend)
  POST /stream?size=N   generates N random bytes on the fly, streams them to a healthy backend
                        and answers 200 {"size","sha256","backend","elapsedMs"} once the backend's
                        ack matches; 400 bad size, 413 over --max-size, 405 other methods,
                        502 backend failure, 503 no healthy backend

Options:
  --port N               port (required; 0 picks a free one)
  --host HOST            address to listen on (default 127.0.0.1)
  --backends SPEC        host:port,… (a static list) or srv:NAME (DNS SRV records, as served by
                         Consul's DNS or a Kubernetes headless service); required
  --dns-server HOST:PORT DNS server for srv: lookups (default: the system's; Consul: 127.0.0.1:8600)
  --max-size BYTES       largest size accepted (default 68719476736, 64 GiB)
  --health-interval MS   time between health rounds (default 2000)
  --headers-timeout MS   time allowed to send request headers (default 30000; then 408)
  -h, --help             show this help

Prints "tcp-stream-gateway listening on URL" after the first health round; SIGTERM/SIGINT stop it.
Exit codes: 0 stopped by a signal or --help, 1 could not start, 2 bad usage.`

function readOptions(argv: string[]) {
  let values: {
    port?: string | undefined
    host: string
    backends?: string | undefined
    'dns-server'?: string | undefined
    'max-size'?: string | undefined
    'health-interval'?: string | undefined
    'headers-timeout'?: string | undefined
    help: boolean
  }
  try {
    values = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        backends: { type: 'string' },
        'dns-server': { type: 'string' },
        'max-size': { type: 'string' },
        'health-interval': { type: 'string' },
        'headers-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  if (values.help) return undefined
  const port = portOption('port', values.port)
  if (values.backends === undefined)
    throw new UsageError('--backends host:port,…|srv:NAME is required')
  let backends: ReturnType<typeof parseBackendSpec>
  try {
    const dns = values['dns-server']
    backends = parseBackendSpec(values.backends, dns === undefined ? undefined : [dns])
  } catch (error) {
    if (error instanceof BackendSpecError) throw new UsageError(`--backends: ${error.message}`)
    throw error
  }
  const maxSize = countOption('max-size', values['max-size'])
  const intervalMs = countOption(
    'health-interval',
    values['health-interval'],
    'number of milliseconds',
  )
  const headersTimeout = countOption(
    'headers-timeout',
    values['headers-timeout'],
    'number of milliseconds',
  )
  return {
    host: values.host,
    port,
    gateway: {
      backends,
      ...(headersTimeout === undefined ? {} : { headersTimeout }),
      ...(maxSize === undefined ? {} : { maxSize }),
      ...(intervalMs === undefined ? {} : { intervalMs }),
    },
  }
}

const options = await readCommandLine('tcp-stream-gateway', HELP, () =>
  readOptions(process.argv.slice(2)),
)
if (options !== undefined) {
  const { server, pool } = createGateway(options.gateway)
  await pool.refresh()
  await serveUntilSignal(server, {
    name: 'tcp-stream-gateway',
    host: options.host,
    port: options.port,
  }).catch((error: unknown) => {
    pool.stop()
    process.stderr.write(`tcp-stream-gateway: cannot start: ${(error as Error).message}\n`)
    process.exitCode = 1
  })
}
