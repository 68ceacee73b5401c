import {
  byteSizeOption,
  CannotStartError,
  millisecondsOption,
  packageVersion,
  pathOption,
  portOption,
  runCommand,
  secretOption,
  serve,
  UsageError,
  withDataDirectory,
} from '@sluice/internal/cli'
import { fsReason } from '@sluice/internal/fs'
import { createFstreamServer } from './server.js'

const HELP = `Usage: fstream-server --root DIR [--host 127.0.0.1] [--port 8080] [options]

Live resources under DIR. One appender at a time writes to a resource over a WebSocket
(subprotocol fstream.v1, header X-Verb: APPEND or ?verb=APPEND); any number of followers read it
live (?offset=N, negative from the end; ?wait=1 for a resource not written yet); GET/HEAD /path
answers the stored content (Range supported), 404 if it was never written. Never lists
directories; nothing outside DIR can be reached, no symbolic link is followed.

Options:
  --root DIR             directory of the resources (required; created if missing)
  --host HOST            address to listen on (default 127.0.0.1)
  --port N               port (default 8080; 0 picks a free one)
  --token T              bearer token required to append (header or ?token=); or
                         --token-file FILE, or FSTREAM_APPEND_TOKEN in the environment
  --follow-token T       bearer token required to follow and GET; or
                         --follow-token-file FILE, or FSTREAM_FOLLOW_TOKEN
  --access-log FILE      one JSON line per request and session to FILE (- for stdout)
  --health-path PATH     path of the health check, 200 ok (default /health)
  --metrics-path PATH    path of the Prometheus metrics (default /metrics)
  --max-size BYTES       largest resource (default: no limit; 512k, 1G, 1TiB…)
  --headers-timeout MS   time allowed to send request headers (default 30000; then 408)
  -h, --help             show this help
      --version          show the version

Prints "fstream-server listening on URL" once it accepts connections; SIGTERM/SIGINT stop it
(sessions are closed with 1001).
Exit codes: 0 stopped by a signal, --help or --version; 1 could not start; 2 bad usage.`

/** Runs the fstream-server command line; sets `process.exitCode`. */
export function main(argv: readonly string[]): Promise<void> {
  return runCommand(
    {
      name: 'fstream-server',
      help: HELP,
      options: {
        root: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '8080' },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        'follow-token': { type: 'string' },
        'follow-token-file': { type: 'string' },
        'access-log': { type: 'string' },
        'health-path': { type: 'string', default: '/health' },
        'metrics-path': { type: 'string', default: '/metrics' },
        'max-size': { type: 'string' },
        'headers-timeout': { type: 'string', default: '30000' },
      },
      async run({ values }) {
        if (values.root === undefined) throw new UsageError('--root DIR is required')
        const port = portOption('--port', values.port)
        const maxSize = values['max-size']
        const appendToken = await secretOption(
          '--token',
          values.token,
          values['token-file'],
          'FSTREAM_APPEND_TOKEN',
        )
        const followToken = await secretOption(
          '--follow-token',
          values['follow-token'],
          values['follow-token-file'],
          'FSTREAM_FOLLOW_TOKEN',
        )
        const options = {
          headersTimeout: millisecondsOption('--headers-timeout', values['headers-timeout']),
          healthPath: pathOption('--health-path', values['health-path']),
          metricsPath: pathOption('--metrics-path', values['metrics-path']),
          ...(appendToken === undefined ? {} : { appendToken }),
          ...(followToken === undefined ? {} : { followToken }),
          ...(values['access-log'] === undefined ? {} : { accessLog: values['access-log'] }),
          ...(maxSize === undefined
            ? {}
            : { maxResourceSize: byteSizeOption('--max-size', maxSize) }),
        }
        const root = values.root
        await withDataDirectory('--root', root, async () => {
          const server = createFstreamServer({ ...options, root })
          await server.ready.catch((error: unknown) => {
            throw new CannotStartError(`--root ${root} ${fsReason(error)}`, { cause: error })
          })
          await serve([{ server, name: 'fstream-server', host: values.host, port }])
        })
      },
    },
    argv,
    packageVersion(import.meta.url),
  )
}
