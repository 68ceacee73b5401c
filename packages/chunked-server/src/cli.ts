import { mkdir } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { createChunkedServer } from './handler.js'

const HELP = `Usage: chunked-server [-i|--port 9094] [-p|--path ./content] [--host 127.0.0.1]

A live chunked-transfer origin for low-latency HLS/DASH: PUT or POST an object (chunked or with
a Content-Length); a GET while it is still arriving gets everything so far and then each chunk as
it lands, until the upload ends; a finished object is served as a static file (Content-Length,
ETag, Range, If-None-Match, HEAD) with the upload's Content-Type and Cache-Control. DELETE
removes an object (and stops its upload). Finished objects survive a restart.

This version has the ingest, live and static paths; the seed's -c/-k (HTTPS), -o (CORS),
-r (RAM only), -d (expiry) and -w (wait for content) are not in it yet.

Options:
  -i, --port N      port (default 9094; 0 picks a free one)
  -p, --path DIR    directory of the objects (default ./content, created if missing)
      --host HOST   address to listen on (default 127.0.0.1)
  -h, --help        show this help

Prints "chunked-server listening on URL"; SIGTERM/SIGINT stop it (uploads in progress are
aborted, never stored as complete).
Exit codes: 0 stopped by a signal or --help, 1 could not start, 2 bad usage.`

function readOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', short: 'i', default: '9094' },
      path: { type: 'string', short: 'p', default: './content' },
      host: { type: 'string', default: '127.0.0.1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const port = Number(values.port)
  if (!/^\d+$/.test(values.port) || port > 65535)
    throw new Error(`--port: "${values.port}" is not a TCP port`)
  return { port, root: values.path, host: values.host, help: values.help }
}

/** Runs the chunked-server command line; sets `process.exitCode` on failure. */
export async function main(argv: string[]): Promise<void> {
  let options: ReturnType<typeof readOptions>
  try {
    options = readOptions(argv)
  } catch (error) {
    process.stderr.write(
      `chunked-server: ${(error as Error).message}\nTry 'chunked-server --help'.\n`,
    )
    process.exitCode = 2
    return
  }
  if (options.help) {
    process.stdout.write(`${HELP}\n`)
    return
  }
  try {
    await mkdir(options.root, { recursive: true })
    const server = createChunkedServer({ root: options.root })
    await server.handler.ready
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port, options.host, resolve)
    })
    const address = server.address()
    const port = typeof address === 'object' && address ? address.port : options.port
    const host = options.host.includes(':') ? `[${options.host}]` : options.host
    process.stdout.write(`chunked-server listening on http://${host}:${port}\n`)
    const stop = () => {
      server.close(() => process.exit(0))
      server.closeAllConnections()
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  } catch (error) {
    process.stderr.write(`chunked-server: cannot start: ${(error as Error).message}\n`)
    process.exit(1)
  }
}
