import { once } from 'node:events'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type WebSocket from 'ws'
import { FstreamConnectionError } from './errors.js'
import { type ConnectOptions, openWebSocket, webSocketUrl } from './websocket.js'

export interface AppendOptions extends ConnectOptions {
  /** Append only if the resource is exactly this long (resume after a reconnect); else 409. */
  readonly offset?: number
}

/** A Writable appending to a resource; `size` is the resource's durable size once finished. */
export interface AppendStream extends Writable {
  /** The resource's length once every written byte is acknowledged (after 'finish'). */
  readonly size: number
}

/** Bytes queued on the socket at which a write waits for them to be sent. */
const HIGH_WATER = 1024 * 1024

/**
 * Opens an append session as a Writable: each chunk written is sent as a binary frame (a write
 * completes at once unless more than 1 MiB is queued on the socket: backpressure); the stream
 * finishes only when the server has acknowledged the last byte as durable. Fails with
 * `FSTREAM_ERR_CONFLICT` (another appender, or `offset` is not the resource's length),
 * `FSTREAM_ERR_UNAUTHORIZED`, or `FSTREAM_ERR_CONNECTION` if the session ends before then.
 */
export function openAppend(url: string | URL, options: AppendOptions = {}): AppendStream {
  const target = webSocketUrl(url)
  target.searchParams.set('verb', 'APPEND')
  if (options.offset !== undefined) target.searchParams.set('offset', String(options.offset))
  let ws: WebSocket | undefined
  let start = -1
  let acked = -1
  let sent = 0
  let closed: { code: number; reason: string } | undefined
  let wake: (() => void) | undefined
  const broken = () =>
    new FstreamConnectionError(
      `${url}: the append session ended (${closed?.code ?? 'error'} ${closed?.reason ?? ''}) before the data was acknowledged`,
    )
  const onAbort = () => stream.destroy(options.signal?.reason ?? new Error('aborted'))
  const stream = new Writable({
    construct(callback) {
      openWebSocket(target, options, (data, isBinary) => {
        if (isBinary) return
        const message = JSON.parse(data.toString()) as { type?: string; offset?: number }
        if (typeof message.offset !== 'number') return
        if (message.type === 'ready') start = message.offset
        else if (message.type === 'ack') acked = message.offset
        wake?.()
      }).then(
        (socket) => {
          ws = socket
          socket.once('close', (code: number, reason: Buffer) => {
            closed = { code, reason: reason.toString() }
            wake?.()
          })
          callback()
        },
        (error: Error) => callback(error),
      )
    },
    write(chunk: Buffer, _encoding, callback) {
      if (closed || ws === undefined) return callback(broken())
      sent += chunk.length
      // A send that fails shows as the session's close, which final() reports.
      if (ws.bufferedAmount + chunk.length <= HIGH_WATER) {
        ws.send(chunk, { binary: true })
        callback()
      } else {
        ws.send(chunk, { binary: true }, (error) => callback(error ?? null))
      }
    },
    final(callback) {
      const socket = ws
      if (socket === undefined) return callback(broken())
      ;(async () => {
        while (!closed && (start < 0 || acked < start + sent) && !(start >= 0 && sent === 0)) {
          await new Promise<void>((resolve) => {
            wake = resolve
          })
        }
        if (closed) throw broken()
        socket.close(1000)
        await once(socket, 'close')
      })().then(() => callback(), callback)
    },
    destroy(error, callback) {
      options.signal?.removeEventListener('abort', onAbort)
      if (closed === undefined) ws?.terminate()
      callback(error)
    },
  })
  if (options.signal?.aborted) onAbort()
  else options.signal?.addEventListener('abort', onAbort, { once: true })
  stream.once('finish', () => options.signal?.removeEventListener('abort', onAbort))
  return Object.defineProperty(stream, 'size', { get: () => start + sent }) as AppendStream
}

/**
 * Appends everything `source` gives (bytes or strings; a Node Readable such as `process.stdin` is
 * one) over one session and resolves with the resource's durable size once the server has
 * acknowledged the last byte. See {@link openAppend} for the errors.
 */
export async function append(
  url: string | URL,
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  options: AppendOptions = {},
): Promise<number> {
  const stream = openAppend(url, options)
  await pipeline(source, stream)
  return stream.size
}
