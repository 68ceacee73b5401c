import {
  byteSizeOption,
  CannotStartError,
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
import { parseCorsFile } from './cors.js'
import { type ChunkedServerOptions, createChunkedServer } from './handler.js'

const HELP = `Usage: chunked-server [-i|--port 9094] [-p|--path ./content] [options]

A live chunked-transfer origin for low-latency HLS/DASH: PUT or POST an object (chunked or with
a Content-Length); a GET while it is still arriving gets everything so far and then each chunk as
it lands, until the upload ends; a finished object is served as a static file (Content-Length,
ETag, Range, conditional requests, HEAD) with the upload's Content-Type and Cache-Control.
DELETE removes an object (and stops its upload). Finished objects survive a restart.

Options (the one-letter flags of go-chunked-streaming-server work as aliases):
  -i, --port N              port (default 9094; 0 picks a free one)
  -p, --path DIR            directory of the objects (default ./content, created if missing)
      --host HOST           address to listen on (default 127.0.0.1)
  -c, --cert FILE           PEM certificate: HTTPS with HTTP/2 and HTTP/1.1 (needs --key)
  -k, --key FILE            PEM private key (needs --cert)
  -o, --cors FILE           CORS JSON: {"AllowedOrigins": [...], "AllowedMethods": [...],
                            "AllowedHeaders": [...]}
  -d, --expire              delete objects when their upload's Cache-Control max-age runs out
  -w, --wait MS             a GET for a key not uploaded yet waits this long for it
                            (default 1000; 0 answers 404 at once); per request: Expires: in=N
      --max-object-size B   larger uploads get 413 (512k, 1G, 1TiB…: powers of 1024)
      --idle-timeout MS     abort an upload silent this long (default 30000; 0 = never)
      --headers-timeout MS  time allowed to send request headers (default 30000; then 408)
  -r, --memory              keep objects in memory only (nothing on disk, nothing kept
                            across restarts); uploads that do not fit get 507
      --memory-budget B     bytes of objects -r may hold (default 512M)
      --token T             bearer token required to PUT, POST and DELETE (or
                            --token-file FILE, or CHUNKED_WRITE_TOKEN in the environment)
      --read-token T        bearer token required to GET and HEAD (or --read-token-file FILE,
                            or CHUNKED_READ_TOKEN); reads are open without it
      --access-log FILE     one JSON line per request to FILE (- for stdout; default: none)
      --health-path PATH    path of the health check, 200 ok (default /health)
      --metrics-path PATH   path of the Prometheus metrics (default /metrics)
  -h, --help                show this help
      --version             show the version

Prints "chunked-server listening on URL"; SIGTERM/SIGINT stop it (uploads in progress are
aborted, never stored as complete).
Exit codes: 0 stopped by a signal, --help or --version; 1 could not start; 2 bad usage.`

/** Runs the chunked-server command line; sets `process.exitCode`. */
export function main(argv: readonly string[]): Promise<void> {
  return runCommand(
    {
      name: 'chunked-server',
      help: HELP,
      options: {
        port: { type: 'string', short: 'i', default: '9094' },
        path: { type: 'string', short: 'p', default: './content' },
        host: { type: 'string', default: '127.0.0.1' },
        cert: { type: 'string', short: 'c' },
        key: { type: 'string', short: 'k' },
        cors: { type: 'string', short: 'o' },
        expire: { type: 'boolean', short: 'd', default: false },
        wait: { type: 'string', short: 'w', default: '1000' },
        'max-object-size': { type: 'string' },
        'idle-timeout': { type: 'string', default: '30000' },
        'headers-timeout': { type: 'string', default: '30000' },
        memory: { type: 'boolean', short: 'r', default: false },
        'memory-budget': { type: 'string', default: '512M' },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        'read-token': { type: 'string' },
        'read-token-file': { type: 'string' },
        'access-log': { type: 'string' },
        'health-path': { type: 'string', default: '/health' },
        'metrics-path': { type: 'string', default: '/metrics' },
      },
      async run({ values }) {
        const port = portOption('--port', values.port)
        if ((values.cert === undefined) !== (values.key === undefined)) {
          throw new UsageError('--cert and --key go together')
        }
        const maxObjectSize = values['max-object-size']
        let cors: ChunkedServerOptions['cors']
        if (values.cors !== undefined) {
          const text = (await readOption('--cors', values.cors)).toString('utf8')
          try {
            cors = parseCorsFile(text)
          } catch (error) {
            throw new UsageError(`--cors: ${values.cors}: ${(error as Error).message}`)
          }
        }
        const writeToken = await secretOption(
          '--token',
          values.token,
          values['token-file'],
          'CHUNKED_WRITE_TOKEN',
        )
        const readToken = await secretOption(
          '--read-token',
          values['read-token'],
          values['read-token-file'],
          'CHUNKED_READ_TOKEN',
        )
        const options: ChunkedServerOptions = {
          root: values.path,
          healthPath: pathOption('--health-path', values['health-path']),
          metricsPath: pathOption('--metrics-path', values['metrics-path']),
          ...(writeToken === undefined ? {} : { writeToken }),
          ...(readToken === undefined ? {} : { readToken }),
          ...(values['access-log'] === undefined ? {} : { accessLog: values['access-log'] }),
          waitMs: millisecondsOption('--wait', values.wait),
          expire: values.expire,
          ingestIdleTimeout: millisecondsOption('--idle-timeout', values['idle-timeout']),
          headersTimeout: millisecondsOption('--headers-timeout', values['headers-timeout']),
          ...(maxObjectSize === undefined
            ? {}
            : { maxObjectSize: byteSizeOption('--max-object-size', maxObjectSize) }),
          ...(values.memory
            ? { memoryBudget: byteSizeOption('--memory-budget', values['memory-budget']) }
            : {}),
          ...(cors ? { cors } : {}),
          ...(values.cert !== undefined && values.key !== undefined
            ? {
                tls: {
                  cert: await readOption('--cert', values.cert),
                  key: await readOption('--key', values.key),
                },
              }
            : {}),
        }
        const scheme = options.tls ? 'https' : 'http'
        const start = async () => {
          const server = createChunkedServer(options)
          await server.handler.ready.catch((error: unknown) => {
            throw new CannotStartError(`--path ${options.root} ${fsReason(error)}`, {
              cause: error,
            })
          })
          await serve([{ server, name: 'chunked-server', host: values.host, port, scheme }])
        }
        // In memory (-r), nothing is written under --path: it is not created either.
        if (values.memory) await start()
        else await withDataDirectory('--path', options.root, start)
      },
    },
    argv,
    packageVersion(import.meta.url),
  )
}
