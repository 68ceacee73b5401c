import { connect } from 'node:net'
import { type ListeningServer, listen } from '@sluice/test-utils'
import { createHashServer, type HashServer, type HashServerOptions } from '../src/index.js'

/** A hash server on an ephemeral loopback port. */
export async function startHashServer(
  options: HashServerOptions = {},
): Promise<ListeningServer & { server: HashServer }> {
  const server = createHashServer({ onError: () => {}, ...options })
  return Object.assign(await listen(server), { server })
}

/**
 * Sends raw bytes on a fresh TCP connection and resolves with everything the server answers
 * until it closes the connection (or `waitMs` passes with the connection still open).
 */
export function rawExchange(port: number, bytes: string | Buffer, waitMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const received: Buffer[] = []
    const timer = setTimeout(() => socket.destroy(), waitMs)
    socket.on('data', (chunk: Buffer) => received.push(chunk))
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(received).toString('latin1'))
    })
    socket.write(bytes)
  })
}

/** A multipart/form-data body built by hand, for malformed-input tests. */
export function multipartRequest(port: number, boundary: string, body: string): string {
  return (
    `POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n` +
    `Content-Type: multipart/form-data; boundary=${boundary}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  )
}
