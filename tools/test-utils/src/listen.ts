import type { Server as HttpServer } from 'node:http'
import type { AddressInfo, Server as NetServer, Socket } from 'node:net'
import { cleanUpAfterTest } from './cleanup.js'

/** A server listening on an ephemeral loopback port, with a close that also ends its connections. */
export interface ListeningServer {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly url: string
  readonly host: string
  readonly port: number
  /** Destroys every open connection, then resolves once the server has stopped listening. */
  close(): Promise<void>
}

/**
 * Starts `server` on port 0 of `host` (or on `port`: a server that comes back where it was) and tracks its connections so that `close()` cannot hang on a
 * keep-alive or half-finished socket (the ky test-server pattern: close all connections, then
 * await `close()`). Inside a test, the server is closed when the test finishes.
 */
export async function listen(
  server: NetServer | HttpServer,
  host = '127.0.0.1',
  port = 0,
): Promise<ListeningServer> {
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const bound = (server.address() as AddressInfo).port
  const urlHost = host.includes(':') ? `[${host}]` : host
  let closing: Promise<void> | undefined
  const listening: ListeningServer = {
    url: `http://${urlHost}:${bound}`,
    host,
    port: bound,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error && (error as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') {
            reject(error)
          } else {
            resolve()
          }
        })
        if ('closeAllConnections' in server) server.closeAllConnections()
        for (const socket of sockets) socket.destroy()
      })
      return closing
    },
  }
  cleanUpAfterTest(listening.close)
  return listening
}
