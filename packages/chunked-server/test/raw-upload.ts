import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { cleanUpAfterTest } from '@sluice/test-utils'

/** The answer to an upload: its status and body, or `undefined` when the connection was cut. */
export interface UploadAnswer {
  readonly status: number | undefined
  readonly body: string
}

/** A chunked PUT over a raw socket that the test feeds chunk by chunk, then ends or cuts. */
export interface RawUpload {
  /** Sends `data` as one chunk; resolves once it is on the socket. */
  write(data: Buffer | string): Promise<void>
  /** Sends the last chunk and resolves with the server's answer. */
  finish(): Promise<UploadAnswer>
  /** Cuts the connection in the middle of the body. */
  abort(): void
  /** Resolves with the answer, however the exchange ends. */
  readonly answered: Promise<UploadAnswer>
}

function parseAnswer(raw: string): UploadAnswer {
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(raw)?.[1]
  const bodyStart = raw.indexOf('\r\n\r\n')
  return {
    status: status === undefined ? undefined : Number(status),
    body: bodyStart === -1 ? '' : raw.slice(bodyStart + 4),
  }
}

/** Starts a chunked `PUT key` to the server on `port` (one connection, closed after the answer). */
export function rawUpload(port: number, key: string, headers: string[] = []): RawUpload {
  const socket: Socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  cleanUpAfterTest(() => socket.destroy())
  let raw = ''
  socket.setEncoding('latin1')
  socket.on('data', (text: string) => {
    raw += text
  })
  const answered = once(socket, 'close').then(() => parseAnswer(raw))
  socket.write(
    [
      `PUT ${key} HTTP/1.1`,
      'Host: origin',
      'Transfer-Encoding: chunked',
      'Connection: close',
      ...headers,
      '',
      '',
    ].join('\r\n'),
  )
  const send = (bytes: string | Buffer) =>
    new Promise<void>((resolve, reject) =>
      socket.write(bytes, (error) => (error ? reject(error) : resolve())),
    )
  return {
    async write(data) {
      const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length
      await send(`${length.toString(16)}\r\n`)
      await send(data)
      await send('\r\n')
    },
    async finish() {
      await send('0\r\n\r\n')
      return answered
    },
    abort: () => socket.destroy(),
    answered,
  }
}
