import {
  byteSizeOption,
  packageVersion,
  portOption,
  runCommand,
  type Served,
  serve,
} from '@sluice/internal/cli'
import { createStreamService } from './service.js'
import { createStatusServer } from './status-server.js'

const HELP = `Usage: tcp-stream-service --port N [--host 127.0.0.1] [--max-frame-size BYTES] [--status-port N]

A TCP service reading length-prefixed frames (an 8-byte little-endian length, then the bytes).
Each frame is hashed as it arrives and answered with an ack frame carrying JSON
{"size":N,"sha256":"hex"}; a frame over the limit gets {"error":"…"} and the connection closes.

Options:
  --port N                port (required; 0 picks a free one)
  --host HOST             address to listen on (default 127.0.0.1)
  --max-frame-size BYTES  largest frame accepted (default 64G; 512k, 1G, 1TiB…)
  --status-port N         also serve HTTP on this port (same host): GET /health (200 ok) and
                          GET /metrics (Prometheus text: connections, frames, bytes)
  -h, --help              show this help
      --version           show the version

Prints "tcp-stream-service listening on tcp://HOST:PORT" (and "tcp-stream-service status
listening on http://HOST:PORT" with --status-port); SIGTERM/SIGINT stop it.
Exit codes: 0 stopped by a signal, --help or --version; 1 could not start; 2 bad usage.`

await runCommand(
  {
    name: 'tcp-stream-service',
    help: HELP,
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      'max-frame-size': { type: 'string' },
      'status-port': { type: 'string' },
    },
    async run({ values }) {
      const port = portOption('--port', values.port)
      const maxFrameSize = values['max-frame-size']
      const service = createStreamService(
        maxFrameSize === undefined
          ? {}
          : { maxFrameSize: byteSizeOption('--max-frame-size', maxFrameSize) },
      )
      const servers: Served[] = [
        { server: service, name: 'tcp-stream-service', scheme: 'tcp', host: values.host, port },
      ]
      const statusPort = values['status-port']
      if (statusPort !== undefined) {
        servers.push({
          server: createStatusServer(service.metrics),
          name: 'tcp-stream-service status',
          host: values.host,
          port: portOption('--status-port', statusPort),
        })
      }
      await serve(servers)
    },
  },
  process.argv.slice(2),
  packageVersion(import.meta.url),
)
