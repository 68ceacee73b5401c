import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import {
  byteSizeOption,
  CannotStartError,
  countOption,
  millisecondsOption,
  packageVersion,
  pathOption,
  portOption,
  runCommand,
  secretOption,
  serve,
  UsageError,
  urlOf,
  withDataDirectory,
} from '@sluice/internal/cli'
import { fsReason } from '@sluice/internal/fs'
import { aggregateClusterMetrics } from '@sluice/internal/http'
import { supportedAlgorithms } from './algorithms.js'
import { createHashServer, type HashServerOptions } from './server.js'
import { DiskStore } from './store/disk.js'
import type { ObjectStore } from './store/index.js'
import { S3Store, type S3StoreOptions } from './store/s3.js'
import { s3StoreOption } from './store-option.js'
import type { TusOptions } from './tus/tus-service.js'

const HELP = `Usage: hash-server [options]

Answers the digest of every request body (POST/PUT) as it streams:
  curl --data-binary @file http://127.0.0.1:8080/            -> hex MD5
  curl -F a=@x -F b=@y 'http://127.0.0.1:8080/?algorithm=sha256' -H 'Accept: application/json'

Options:
  --host HOST             address to listen on (default 127.0.0.1)
  --port N                port (default 8080; 0 picks a free one)
  --algorithm LIST        default algorithms, comma-separated (default md5)
  --store DIR             keep verified bodies at DIR/<algorithm>/<hex>, served by GET
                          (created if missing)
  --store s3://BUCKET[/PREFIX]
                          keep them in S3-compatible storage, at PREFIX/<algorithm>/<hex>
                          (credentials and region: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
                          AWS_REGION, AWS_PROFILE…, as the AWS SDK finds them)
  --s3-endpoint URL       an S3-compatible service (default: AWS, or AWS_ENDPOINT_URL_S3)
  --s3-path-style         URLs of the form ENDPOINT/BUCKET/KEY (most S3-compatible services)
  --s3-part-size BYTES    smallest part of an upload (default 8M; 5M to 5G)
  --s3-max-parts N        most parts of one upload (default 10000; Swift: 1000)
  --s3-parts-in-flight N  buffered parts one upload holds at once (default 4)
  --s3-buffer BYTES       buffered parts all uploads of a process hold (default 128M)
  --s3-buffer-parts       buffer every part and send it with Content-MD5, also when the
                          length is known (default: such bodies are streamed, each part
                          checked against S3's ETag; needed where ETags are not MD5s: KMS)
  --workers N             processes sharing the port (default 1; 0 = one per core)
  --hash-threads N        threads of each process that hash bodies of 1 MiB or more, so
                          that reading and hashing use two cores (default: one per core;
                          0 hashes on the request's thread: the least CPU per byte)
  --tus-path PATH         serve resumable uploads (tus 1.0) under PATH, such as /files/:
                          digests computed across every PATCH, reconnect and restart,
                          checked and stored like any other body once complete (default: off)
  --tus-dir DIR           where uploads in progress are kept (default: STORE/.tus with
                          --store DIR; needed otherwise). One process: not with --workers
  --tus-expire MS         remove an upload untouched this long (default 86400000: 24 h)
  --tus-max-uploads N     uploads in progress at most; more get 503 (default 1000)
  --token T               bearer token required for tus and for storing uploads (or
                          --token-file FILE, or HASH_SERVER_TOKEN in the environment)
  --max-body-size BYTES   larger bodies get 413 (512k, 1G, 1TiB…: powers of 1024)
  --max-parts N           most parts in one multipart body (default 1000)
  --headers-timeout MS    time allowed to send request headers (default 30000; then 408)
  --idle-timeout MS       close a connection idle this long (default 60000)
  --access-log FILE       one JSON line per request to FILE (- for stdout; default: none)
  --health-path PATH      path of the health check (default /health)
  --metrics-path PATH     path of the Prometheus metrics (default /metrics; with --workers,
                          the figures of all the workers added up)
  -h, --help              show this help
      --version           show the version

Prints "hash-server listening on URL" on stdout once it accepts connections.
SIGTERM or SIGINT stops accepting, lets requests in flight finish, then exits.

Exit codes: 0 stopped by a signal, --help or --version; 1 could not start (port in use, store
not usable); 2 bad usage.`

interface HashServerCommand {
  readonly host: string
  readonly port: number
  readonly workers: number
  readonly server: HashServerOptions
  /** `--store s3://…`: each process makes its own store. */
  readonly s3: S3StoreOptions | undefined
}

async function runServer(
  options: HashServerCommand,
  announce: boolean,
  store?: ObjectStore,
): Promise<void> {
  const own = store ?? (options.s3 ? new S3Store(options.s3) : undefined)
  const server = createHashServer({ ...options.server, ...(own ? { store: own } : {}) })
  server.on('close', () => {
    own?.close().catch(() => {})
  })
  await server.handler.ready.catch((error: unknown) => {
    throw own ? cannotUse(own, error) : error
  })
  await serve([{ server, name: 'hash-server', host: options.host, port: options.port, announce }], {
    drainMs: 30_000,
  })
}

/** Runs the workers; `removeCreated` undoes what the start created when no worker can start. */
function runPrimary(options: HashServerCommand, removeCreated: () => Promise<void>): void {
  aggregateClusterMetrics()
  let stopping = false
  let signalled = false
  // Counted here, not read from cluster.workers: a worker stays listed there after its 'exit'
  // until its IPC channel has closed too.
  const running = new Set<Worker>()
  const served = new WeakSet<Worker>()
  // Once a worker has listened, what this start created may hold uploads: it is never removed.
  let listened = false
  let startFailed = false
  const fork = () => running.add(cluster.fork())
  cluster.on('listening', (worker, address) => {
    served.add(worker)
    if (listened || stopping) return
    listened = true
    process.stdout.write(
      `hash-server listening on ${urlOf('http', options.host, address.port)} (${options.workers} workers)\n`,
    )
  })
  // The primary exits once no worker runs: 0 when stopped by a signal, 1 when the start failed or
  // the last worker could not be replaced. Only then is a failed start's directory removed: a
  // worker still starting would make it again.
  const exitWhenAllGone = () => {
    if (running.size > 0) return
    if (startFailed || !signalled) process.exitCode = 1
    const removing = startFailed && !listened ? removeCreated().catch(() => {}) : Promise.resolve()
    void removing.finally(() => process.exit())
  }
  const gone = (worker: Worker, code: number | null, signal: string | null) => {
    running.delete(worker)
    if (stopping) return exitWhenAllGone()
    if (served.has(worker)) {
      // A crash (an uncaught exception exits 1 too) or a kill: the others serve on meanwhile.
      console.error(
        `hash-server: worker ${worker.process.pid} died (${signal ?? code}); starting another`,
      )
      fork()
      return
    }
    console.error(`hash-server: worker ${worker.process.pid} could not start`)
    if (!listened) {
      startFailed = true
      stopping = true
      for (const other of running) other.process.kill('SIGTERM')
    }
    // Else a replacement could not start: not retried, the others serve on.
    exitWhenAllGone()
  }
  cluster.on('exit', (worker, code, signal) => {
    // A worker's last messages ('listening' among them) are read before its channel closes.
    if (worker.isConnected()) worker.once('disconnect', () => gone(worker, code, signal))
    else gone(worker, code, signal)
  })
  const stopWorkers = () => {
    stopping = true
    signalled = true
    for (const worker of running) worker.process.kill('SIGTERM')
  }
  // Every signal, as serve() does: a repeated one must not end the primary before its workers.
  process.on('SIGTERM', stopWorkers)
  process.on('SIGINT', stopWorkers)
  for (let i = 0; i < options.workers; i++) fork()
}

function cannotUse(store: ObjectStore, error: unknown): CannotStartError {
  const reason = store instanceof DiskStore ? fsReason(error) : (error as Error).message
  return new CannotStartError(`--store ${store.location} ${reason}`, { cause: error })
}

/** `--tus-*`: the tus endpoint's options, or undefined without `--tus-path`. */
function tusOption(
  values: Record<string, string | boolean | undefined>,
  storeDirectory: string | undefined,
  workers: number,
): TusOptions | undefined {
  const path = values['tus-path']
  if (typeof path !== 'string') {
    const stray = ['tus-dir'].find((flag) => values[flag] !== undefined)
    if (stray) throw new UsageError(`--${stray} needs --tus-path`)
    return undefined
  }
  if (workers !== 1) {
    throw new UsageError(
      '--tus-path needs one process (--workers 1): uploads in progress live in its memory',
    )
  }
  const dir = values['tus-dir']
  const directory =
    typeof dir === 'string'
      ? dir
      : storeDirectory === undefined
        ? undefined
        : join(storeDirectory, '.tus')
  if (directory === undefined) {
    throw new UsageError(
      '--tus-path needs --tus-dir DIR (or --store DIR, which keeps them in DIR/.tus)',
    )
  }
  const expire = millisecondsOption('--tus-expire', values['tus-expire'] as string)
  if (expire === 0) throw new UsageError('--tus-expire: 0 would remove uploads as they start')
  return {
    path: pathOption('--tus-path', path),
    directory,
    expire,
    maxUploads: countOption('--tus-max-uploads', values['tus-max-uploads'] as string, 1),
  }
}

/** Runs the hash-server command line; sets `process.exitCode`. */
export async function main(argv: readonly string[]): Promise<void> {
  await runCommand(
    {
      name: 'hash-server',
      help: HELP,
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '8080' },
        algorithm: { type: 'string', default: 'md5' },
        store: { type: 'string' },
        workers: { type: 'string', default: '1' },
        'hash-threads': { type: 'string' },
        'max-body-size': { type: 'string' },
        'max-parts': { type: 'string', default: '1000' },
        'headers-timeout': { type: 'string' },
        // The first spelling of --headers-timeout, still accepted.
        'header-timeout': { type: 'string' },
        'idle-timeout': { type: 'string', default: '60000' },
        'access-log': { type: 'string' },
        'health-path': { type: 'string', default: '/health' },
        'metrics-path': { type: 'string', default: '/metrics' },
        's3-endpoint': { type: 'string' },
        's3-path-style': { type: 'boolean' },
        's3-part-size': { type: 'string' },
        's3-max-parts': { type: 'string' },
        's3-parts-in-flight': { type: 'string' },
        's3-buffer': { type: 'string' },
        's3-buffer-parts': { type: 'boolean' },
        'tus-path': { type: 'string' },
        'tus-dir': { type: 'string' },
        'tus-expire': { type: 'string', default: '86400000' },
        'tus-max-uploads': { type: 'string', default: '1000' },
        token: { type: 'string' },
        'token-file': { type: 'string' },
      },
      async run({ values }) {
        const algorithms = values.algorithm.split(',').map((name) => name.trim().toLowerCase())
        const unknown = algorithms.find((name) => !supportedAlgorithms().includes(name))
        if (unknown !== undefined) {
          throw new UsageError(
            `--algorithm: unsupported "${unknown}"; supported: ${supportedAlgorithms().join(', ')}`,
          )
        }
        const workers = countOption('--workers', values.workers)
        const maxBodySize = values['max-body-size']
        const headersTimeout = values['headers-timeout'] ?? values['header-timeout'] ?? '30000'
        const s3 = s3StoreOption(values.store, values)
        const token = await secretOption(
          '--token',
          values.token,
          values['token-file'],
          'HASH_SERVER_TOKEN',
        )
        const tus = tusOption(values, s3 === undefined ? values.store : undefined, workers)
        const command: HashServerCommand = {
          s3,
          host: values.host,
          port: portOption('--port', values.port),
          workers: workers === 0 ? availableParallelism() : workers,
          server: {
            algorithms,
            ...(values.store === undefined || s3 ? {} : { store: values.store }),
            ...(maxBodySize === undefined
              ? {}
              : { maxBodySize: byteSizeOption('--max-body-size', maxBodySize) }),
            multipart: { maxParts: countOption('--max-parts', values['max-parts'], 1) },
            ...(values['hash-threads'] === undefined
              ? {}
              : { hashThreads: countOption('--hash-threads', values['hash-threads']) }),
            headersTimeout: millisecondsOption('--headers-timeout', headersTimeout),
            idleTimeout: millisecondsOption('--idle-timeout', values['idle-timeout']),
            healthPath: pathOption('--health-path', values['health-path']),
            metricsPath: pathOption('--metrics-path', values['metrics-path']),
            ...(values['access-log'] === undefined ? {} : { accessLog: values['access-log'] }),
            ...(tus ? { tus } : {}),
            ...(token === undefined ? {} : { token }),
          },
        }
        const { store } = command.server
        const clustered = command.workers > 1 && cluster.isPrimary
        let removeCreated = async () => {}
        if (s3 && cluster.isPrimary) {
          // Checked once before any worker starts; each worker then makes its own.
          const checked = new S3Store(s3)
          await checked.init().catch((error: unknown) => {
            throw cannotUse(checked, error)
          })
          if (clustered) await checked.close()
          else await runServer(command, true, checked)
        } else if (typeof store === 'string' && cluster.isPrimary) {
          // Made, checked and cleared of a crash's leftovers once, before any worker starts (the
          // workers find it ready); removed again if it was made here and the server cannot start.
          removeCreated = await withDataDirectory('--store', store, async () => {
            const disk = new DiskStore(store)
            await disk.init().catch((error: unknown) => {
              throw cannotUse(disk, error)
            })
            if (!clustered) await runServer(command, true, disk)
          })
        } else if (!clustered) await runServer(command, cluster.isPrimary)
        if (clustered) runPrimary(command, removeCreated)
      },
    },
    argv,
    packageVersion(import.meta.url),
  )
  // A worker that could not start ends, so that its primary learns it: the IPC channel to the
  // primary would keep it alive.
  if (cluster.isWorker && process.exitCode) process.disconnect()
}
