import {
  byteSizeOption,
  millisecondsOption,
  packageVersion,
  portOption,
  runCommand,
  serve,
  UsageError,
} from '@sluice/internal/cli'
import { BackendSpecError, parseBackendSpec } from './backends.js'
import { createGateway } from './gateway.js'

const HELP = `Usage: tcp-stream-gateway --port N --backends host:port,…|srv:NAME [options]

An HTTP gateway in front of tcp-stream-service backends.
  GET  /                a page showing the backends' health live, with a form that streams bytes
  GET  /health          200 while a backend is healthy, 503 otherwise (JSON with each backend)
  GET  /metrics         Prometheus text: requests, backends (healthy), streams by outcome, bytes
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
  --max-size BYTES       largest size accepted (default 64G; 512k, 1G, 1TiB…)
  --health-interval MS   time between health rounds (default 2000)
  --headers-timeout MS   time allowed to send request headers (default 30000; then 408)
  -h, --help             show this help
      --version          show the version

Prints "tcp-stream-gateway listening on URL" after the first health round; SIGTERM/SIGINT stop it.
Exit codes: 0 stopped by a signal, --help or --version; 1 could not start; 2 bad usage.`

await runCommand(
  {
    name: 'tcp-stream-gateway',
    help: HELP,
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      backends: { type: 'string' },
      'dns-server': { type: 'string' },
      'max-size': { type: 'string' },
      'health-interval': { type: 'string' },
      'headers-timeout': { type: 'string' },
    },
    async run({ values }) {
      const port = portOption('--port', values.port)
      if (values.backends === undefined) {
        throw new UsageError('--backends host:port,…|srv:NAME is required')
      }
      let backends: ReturnType<typeof parseBackendSpec>
      try {
        const dns = values['dns-server']
        backends = parseBackendSpec(values.backends, dns === undefined ? undefined : [dns])
      } catch (error) {
        if (error instanceof BackendSpecError) throw new UsageError(`--backends: ${error.message}`)
        throw error
      }
      const { 'max-size': maxSize, 'health-interval': interval } = values
      const headersTimeout = values['headers-timeout']
      const { server, pool } = createGateway({
        backends,
        ...(maxSize === undefined ? {} : { maxSize: byteSizeOption('--max-size', maxSize) }),
        ...(interval === undefined
          ? {}
          : { intervalMs: millisecondsOption('--health-interval', interval) }),
        ...(headersTimeout === undefined
          ? {}
          : { headersTimeout: millisecondsOption('--headers-timeout', headersTimeout) }),
      })
      await pool.refresh()
      await serve([{ server, name: 'tcp-stream-gateway', host: values.host, port }]).catch(
        (error: unknown) => {
          pool.stop()
          throw error
        },
      )
    },
  },
  process.argv.slice(2),
  packageVersion(import.meta.url),
)
