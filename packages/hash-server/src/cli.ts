import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { readCommandLine, serveUntilSignal, urlOf } from '@sluice/internal/cli'
import { fsReason } from '@sluice/internal/fs'
import { supportedAlgorithms } from './algorithms.js'
import { createHashServer } from './server.js'
import { ContentStore } from './store.js'

const HELP = `Usage: hash-server [options]

Answers the digest of every request body (POST/PUT) as it streams:
  curl --data-binary @file http://127.0.0.1:8080/            -> hex MD5
  curl -F a=@x -F b=@y 'http://127.0.0.1:8080/?algorithm=sha256' -H 'Accept: application/json'

Options:
  --host HOST             address to listen on (default 127.0.0.1)
  --port N                port (default 8080; 0 picks a free one)
  --algorithm LIST        default algorithms, comma-separated (default md5)
  --store DIR             keep verified bodies at DIR/<algorithm>/<hex>, served by GET
  --workers N             processes sharing the port (default 1; 0 = one per core)
  --max-body-size BYTES   larger bodies get 413 (suffixes k, M, G, T: powers of 1024)
  --max-parts N           most parts in one multipart body (default 1000)
  --headers-timeout MS    time allowed to send request headers (default 30000; then 408)
  --idle-timeout MS       close a connection idle this long (default 60000)
  -h, --help              show this help

Prints "hash-server listening on URL" on stdout once it accepts connections.
SIGTERM or SIGINT stops accepting, lets requests in flight finish, then exits.

Exit codes: 0 stopped by a signal, 1 could not start (port in use, store unwritable), 2 bad usage.`

/** A bad command line: printed with a hint, exit code 2. */
class UsageError extends Error {
  override name = 'UsageError'
}

const SIZE_SUFFIX: Record<string, number> = {
  '': 1,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
}

function parseByteSize(flag: string, text: string): number {
  const match = /^(\d+)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim())
  const factor = SIZE_SUFFIX[match?.[2]?.toLowerCase() ?? '']
  const value = match ? Number(match[1]) * (factor ?? Number.NaN) : Number.NaN
  if (!Number.isSafeInteger(value)) throw new UsageError(`${flag}: "${text}" is not a byte size`)
  return value
}

function parseCount(flag: string, text: string, min: number): number {
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag}: "${text}" is not a whole number >= ${min}`)
  }
  return value
}

function readOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8080' },
      algorithm: { type: 'string', default: 'md5' },
      store: { type: 'string' },
      workers: { type: 'string', default: '1' },
      'max-body-size': { type: 'string' },
      'max-parts': { type: 'string', default: '1000' },
      'headers-timeout': { type: 'string' },
      // The first spelling of --headers-timeout, still accepted.
      'header-timeout': { type: 'string' },
      'idle-timeout': { type: 'string', default: '60000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const port = parseCount('--port', values.port, 0)
  if (port > 65535) throw new UsageError(`--port: ${port} is not a TCP port`)
  const algorithms = values.algorithm.split(',').map((name) => name.trim().toLowerCase())
  const unknown = algorithms.find((name) => !supportedAlgorithms().includes(name))
  if (unknown !== undefined) {
    throw new UsageError(
      `--algorithm: unsupported "${unknown}"; supported: ${supportedAlgorithms().join(', ')}`,
    )
  }
  const workers = parseCount('--workers', values.workers, 0)
  return {
    help: values.help,
    host: values.host,
    port,
    workers: workers === 0 ? availableParallelism() : workers,
    server: {
      algorithms,
      ...(values.store === undefined ? {} : { store: values.store }),
      ...(values['max-body-size'] === undefined
        ? {}
        : { maxBodySize: parseByteSize('--max-body-size', values['max-body-size']) }),
      multipart: { maxParts: parseCount('--max-parts', values['max-parts'], 1) },
      headersTimeout: parseCount(
        '--headers-timeout',
        values['headers-timeout'] ?? values['header-timeout'] ?? '30000',
        1,
      ),
      idleTimeout: parseCount('--idle-timeout', values['idle-timeout'], 0),
    },
  }
}

async function runServer(
  options: ReturnType<typeof readOptions>,
  announce: boolean,
): Promise<void> {
  const server = createHashServer(options.server)
  await server.handler.ready
  await serveUntilSignal(server, {
    name: 'hash-server',
    host: options.host,
    port: options.port,
    announce,
    drainMs: 30_000,
  })
}

function runPrimary(options: ReturnType<typeof readOptions>): void {
  let stopping = false
  let announced = false
  const fork = () => cluster.fork()
  cluster.on('listening', (_worker, address) => {
    if (announced) return
    announced = true
    process.stdout.write(
      `hash-server listening on ${urlOf('http', options.host, address.port)} (${options.workers} workers)\n`,
    )
  })
  cluster.on('exit', (worker, code) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
      return
    }
    if (!announced || code === 1) {
      console.error(`hash-server: worker ${worker.process.pid} could not start`)
      stopping = true
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM')
      process.exitCode = 1
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(1)
      return
    }
    console.error(`hash-server: worker ${worker.process.pid} died (${code}); starting another`)
    fork()
  })
  const stopWorkers = () => {
    stopping = true
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
  }
  process.once('SIGTERM', stopWorkers)
  process.once('SIGINT', stopWorkers)
  for (let i = 0; i < options.workers; i++) fork()
}

/** Runs the hash-server command line; sets `process.exitCode` on failure. */
export async function main(argv: string[]): Promise<void> {
  const options = await readCommandLine('hash-server', HELP, () => {
    const read = readOptions(argv)
    return read.help ? undefined : read
  })
  if (options === undefined) return
  const store = options.server.store
  if (store !== undefined && cluster.isPrimary) {
    try {
      await new ContentStore(store).init()
    } catch (error) {
      process.stderr.write(`hash-server: cannot start: --store ${store} ${fsReason(error)}\n`)
      process.exitCode = 1
      return
    }
  }
  try {
    if (options.workers > 1 && cluster.isPrimary) runPrimary(options)
    else await runServer(options, cluster.isPrimary)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`hash-server: cannot start: ${message}\n`)
    process.exit(1)
  }
}
