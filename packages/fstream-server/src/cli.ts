import {
  byteSizeOption,
  CannotStartError,
  countOption,
  millisecondsOption,
  packageVersion,
  pathOption,
  portOption,
  readOption,
  runCommand,
  secretOption,
  serve,
  UsageError,
  withDataDirectory,
} from '@sluice/internal/cli'
import { fsReason } from '@sluice/internal/fs'
import { createFstreamServer } from './server.js'
import { JetStreamStorage } from './storage/jetstream.js'

const HELP = `Usage: fstream-server --root DIR [--host 127.0.0.1] [--port 8080] [options]
       fstream-server --nats URL[,URL…] [--nats-stream FSTREAM] [--nats-replicas N] [options]

Live resources under DIR, or on NATS JetStream shared by every server on the same stream. One appender at a time writes to a resource over a WebSocket
(subprotocol fstream.v1, header X-Verb: APPEND or ?verb=APPEND); any number of followers read it
live (?offset=N, negative from the end; ?wait=1 for a resource not written yet); GET/HEAD /path
answers the stored content (Range supported), 404 if it was never written. Never lists
directories; nothing outside DIR can be reached, no symbolic link is followed.

Options:
  --root DIR             directory of the resources (created if missing)
  --nats URLS            keep the resources on NATS JetStream instead (nats://host:4222, comma-
                         separated: tried in turn); several fstream-servers share them
  --nats-stream NAME     the stream (default FSTREAM; created at start when missing)
  --nats-replicas N      replicas of the stream when it is created (default 1; 3 on a cluster)
  --nats-lease MS        an appender's lease, renewed at a third of it (default 10000): after a
                         server dies, its resources take a new appender once their leases lapse
  --nats-creds FILE      NATS credentials file; or --nats-token T, --nats-token-file FILE,
                         NATS_TOKEN in the environment
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

/** `--nats`: NATS URLs, comma-separated. */
function natsServers(text: string): string[] {
  const servers = text.split(',').map((url) => url.trim())
  for (const url of servers) {
    if (!/^(nats|tls):\/\/[^/\s]+$/.test(url)) {
      throw new UsageError(`--nats: "${url}" is not a NATS URL (nats://host:port)`)
    }
  }
  return servers
}

/** `--nats-creds FILE`, else a token from `--nats-token`, its file or NATS_TOKEN. */
async function natsCredentials(values: {
  'nats-creds'?: string | undefined
  'nats-token'?: string | undefined
  'nats-token-file'?: string | undefined
}): Promise<{ credentials?: Buffer; token?: string }> {
  const file = values['nats-creds']
  if (file !== undefined) return { credentials: await readOption('--nats-creds', file) }
  const token = await secretOption(
    '--nats-token',
    values['nats-token'],
    values['nats-token-file'],
    'NATS_TOKEN',
  )
  return token === undefined ? {} : { token }
}

/** Runs the fstream-server command line; sets `process.exitCode`. */
export function main(argv: readonly string[]): Promise<void> {
  return runCommand(
    {
      name: 'fstream-server',
      help: HELP,
      options: {
        root: { type: 'string' },
        nats: { type: 'string' },
        'nats-stream': { type: 'string', default: 'FSTREAM' },
        'nats-replicas': { type: 'string', default: '1' },
        'nats-lease': { type: 'string', default: '10000' },
        'nats-creds': { type: 'string' },
        'nats-token': { type: 'string' },
        'nats-token-file': { type: 'string' },
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
        if ((values.root === undefined) === (values.nats === undefined)) {
          throw new UsageError('give --root DIR or --nats URLS (one of them)')
        }
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
        const host = values.host
        if (values.nats !== undefined) {
          const storage = new JetStreamStorage({
            servers: natsServers(values.nats),
            stream: values['nats-stream'],
            replicas: countOption('--nats-replicas', values['nats-replicas'], 1),
            leaseMs: millisecondsOption('--nats-lease', values['nats-lease']),
            ...(await natsCredentials(values)),
          })
          const server = createFstreamServer({ ...options, storage })
          await server.ready.catch((error: unknown) => {
            throw new CannotStartError(`--nats ${values.nats}: ${(error as Error).message}`, {
              cause: error,
            })
          })
          await serve([{ server, name: 'fstream-server', host, port }])
          return
        }
        const root = values.root ?? ''
        await withDataDirectory('--root', root, async () => {
          const server = createFstreamServer({ ...options, root })
          await server.ready.catch((error: unknown) => {
            throw new CannotStartError(`--root ${root} ${fsReason(error)}`, { cause: error })
          })
          await serve([{ server, name: 'fstream-server', host, port }])
        })
      },
    },
    argv,
    packageVersion(import.meta.url),
  )
}
