import type { Server } from 'node:net'

export interface ServeOptions {
  /** The CLI's name, the first word of what it prints. */
  readonly name: string
  readonly host: string
  readonly port: number
  readonly scheme?: 'http' | 'https' | 'tcp'
  /** Print `<name> listening on URL` (default true). */
  readonly announce?: boolean
  /** On SIGTERM/SIGINT, how long requests in flight may take before they are cut (default 2 s). */
  readonly drainMs?: number
}

type HttpLike = Server & { closeIdleConnections?(): void; closeAllConnections?(): void }

/** `http://host:port`, with brackets around an IPv6 host. */
export function urlOf(scheme: string, host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`
}

/**
 * The run loop of every sluice server CLI: listens, prints `<name> listening on URL` on stdout,
 * and on SIGTERM or SIGINT stops accepting, closes idle connections, lets requests in flight
 * finish for `drainMs`, then cuts the rest and exits 0. Rejects if it cannot listen (port in use).
 */
export async function serveUntilSignal(server: HttpLike, options: ServeOptions): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.on('error', (error) => process.stderr.write(`${options.name}: ${error.message}\n`))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : options.port
  if (options.announce !== false) {
    const url = urlOf(options.scheme ?? 'http', options.host, port)
    process.stdout.write(`${options.name} listening on ${url}\n`)
  }
  const stop = () => {
    server.close(() => process.exit(0))
    server.closeIdleConnections?.()
    setTimeout(() => {
      server.closeAllConnections?.()
      // HTTP/2 sessions and upgraded sockets are not the server's to close: do not wait for them.
      setTimeout(() => process.exit(0), 500).unref()
    }, options.drainMs ?? 2_000).unref()
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
