import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { readCommandLine, serveUntilSignal } from '@sluice/internal/cli'
import { fsReason } from '@sluice/internal/fs'
import { parseCorsFile } from './cors.js'
import { type ChunkedServerOptions, createChunkedServer } from './handler.js'

const HELP = `Usage: chunked-server [options]

A live chunked-transfer origin for low-latency HLS/DASH: PUT or POST an object (chunked or with
a Content-Length); a GET while it is still arriving gets everything so far and then each chunk as
it lands, until the upload ends; a finished object is served as a static file (Content-Length,
ETag, Range, If-None-Match, HEAD) with the upload's Content-Type and Cache-Control. DELETE
removes an object (and stops its upload). Finished objects survive a restart.

Options (the seed's one-letter flags are aliases):
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
      --max-object-size B   larger uploads get 413 (suffixes k, M, G: powers of 1024)
      --idle-timeout MS     abort an upload silent this long (default 30000; 0 = never)
      --headers-timeout MS  time allowed to send request headers (default 30000; then 408)
  -r, --memory              keep objects in memory only (nothing on disk, nothing kept
                            across restarts); uploads that do not fit get 507
      --memory-budget B     bytes of objects -r may hold (default 512M)
  -h, --help                show this help

Prints "chunked-server listening on URL"; SIGTERM/SIGINT stop it (uploads in progress are
aborted, never stored as complete).
Exit codes: 0 stopped by a signal or --help, 1 could not start, 2 bad usage.`

const SIZE_SUFFIX: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }

function byteSize(flag: string, text: string): number {
  const match = /^(\d+)([kmg]?)$/i.exec(text)
  if (!match) throw new Error(`${flag}: "${text}" is not a byte size`)
  return Number(match[1]) * (SIZE_SUFFIX[(match[2] ?? '').toLowerCase()] ?? 1)
}

function whole(flag: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`${flag}: "${text}" is not a whole number`)
  return Number(text)
}

async function readOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
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
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const port = whole('--port', values.port)
  if (port > 65535) throw new Error(`--port: ${port} is not a TCP port`)
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw new Error('--cert and --key go together')
  }
  let maxObjectSize: number | undefined
  if (values['max-object-size'] !== undefined) {
    const match = /^(\d+)([kmg]?)$/i.exec(values['max-object-size'])
    if (!match)
      throw new Error(`--max-object-size: "${values['max-object-size']}" is not a byte size`)
    maxObjectSize = Number(match[1]) * (SIZE_SUFFIX[(match[2] ?? '').toLowerCase()] ?? 1)
  }
  const read = async (flag: string, file: string) => {
    try {
      return await readFile(file)
    } catch (error) {
      throw new Error(`${flag}: cannot read ${file}: ${(error as Error).message}`)
    }
  }
  let cors: ChunkedServerOptions['cors']
  if (values.cors !== undefined) {
    const text = (await read('--cors', values.cors)).toString('utf8')
    try {
      cors = parseCorsFile(text)
    } catch (error) {
      throw new Error(`--cors: ${values.cors}: ${(error as Error).message}`)
    }
  }
  const server: ChunkedServerOptions = {
    root: values.path,
    waitMs: whole('--wait', values.wait),
    expire: values.expire,
    ingestIdleTimeout: whole('--idle-timeout', values['idle-timeout']),
    headersTimeout: whole('--headers-timeout', values['headers-timeout']),
    ...(maxObjectSize === undefined ? {} : { maxObjectSize }),
    ...(values.memory
      ? { memoryBudget: byteSize('--memory-budget', values['memory-budget']) }
      : {}),
    ...(cors ? { cors } : {}),
    ...(values.cert !== undefined && values.key !== undefined
      ? { tls: { cert: await read('--cert', values.cert), key: await read('--key', values.key) } }
      : {}),
  }
  return { port, host: values.host, help: values.help, server }
}

/** Runs the chunked-server command line; sets `process.exitCode` on failure. */
export async function main(argv: string[]): Promise<void> {
  const options = await readCommandLine('chunked-server', HELP, async () => {
    const read = await readOptions(argv)
    return read.help ? undefined : read
  })
  if (options === undefined) return
  const server = createChunkedServer(options.server)
  try {
    await server.handler.ready
  } catch (error) {
    process.stderr.write(
      `chunked-server: cannot start: --path ${options.server.root} ${fsReason(error)}\n`,
    )
    process.exitCode = 1
    return
  }
  try {
    await serveUntilSignal(server, {
      name: 'chunked-server',
      host: options.host,
      port: options.port,
      scheme: options.server.tls ? 'https' : 'http',
    })
  } catch (error) {
    process.stderr.write(`chunked-server: cannot start: ${(error as Error).message}\n`)
    process.exit(1)
  }
}
