import type { Server } from 'node:net'
import { CannotStartError } from './errors.js'

/** A server a command line runs. */
export interface Served {
  readonly server: Server & { closeIdleConnections?(): void; closeAllConnections?(): void }
  /** The first word of what it prints: `<name> listening on URL`. */
  readonly name: string
  readonly host: string
  readonly port: number
  readonly scheme?: 'http' | 'https' | 'tcp'
  /** Print `<name> listening on URL` (default true). */
  readonly announce?: boolean
}

export interface ServeOptions {
  /** On SIGTERM/SIGINT, how long requests in flight may take before they are cut (default 2 s). */
  readonly drainMs?: number
}

/** `http://host:port`, with brackets around an IPv6 host. */
export function urlOf(scheme: string, host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`
}

function listen(served: Served): Promise<number> {
  const { server } = served
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(served.port, served.host, () => {
      server.off('error', reject)
      const address = server.address()
      resolve(typeof address === 'object' && address ? address.port : served.port)
    })
  })
}

/**
 * The run loop of every sluice server command line, for one server or several in one process:
 * listens with each, prints `<name> listening on URL` for each, and on SIGTERM or SIGINT stops
 * them all accepting, closes idle connections, lets requests in flight finish for `drainMs`, cuts
 * the rest, and exits 0 once every server has closed. Throws CannotStartError when one of them
 * cannot listen (the others are closed first).
 */
export async function serve(servers: readonly Served[], options: ServeOptions = {}): Promise<void> {
  const listening: Served[] = []
  const drainMs = options.drainMs ?? 2_000
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    let open = listening.length
    if (open === 0) process.exit(0)
    for (const { server } of listening) {
      server.close(() => {
        if (--open === 0) process.exit(0)
      })
      server.closeIdleConnections?.()
    }
    setTimeout(() => {
      for (const { server } of listening) server.closeAllConnections?.()
      // HTTP/2 sessions and upgraded sockets are not the servers' to close: do not wait for them.
      setTimeout(() => process.exit(0), 500).unref()
    }, drainMs).unref()
  }
  // Before anything is announced: a signal sent as soon as "listening" is read must drain too.
  // Every signal is caught, not only the first: a Ctrl-C under turbo and pnpm reaches the process
  // several times (each layer passes it on), and a second one left to its default would end the
  // process at once, before its exit handlers (scratch directories) ran. The drain is bounded.
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  for (const served of servers) {
    try {
      const port = await listen(served)
      listening.push(served)
      served.server.on('error', (error) =>
        process.stderr.write(`${served.name}: ${error.message}\n`),
      )
      if (served.announce !== false) {
        const url = urlOf(served.scheme ?? 'http', served.host, port)
        process.stdout.write(`${served.name} listening on ${url}\n`)
      }
    } catch (error) {
      process.off('SIGTERM', stop)
      process.off('SIGINT', stop)
      for (const other of listening) other.server.close()
      throw new CannotStartError((error as Error).message, { cause: error })
    }
  }
}
