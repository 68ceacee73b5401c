import { Readable } from 'node:stream'
import type WebSocket from 'ws'
import { FstreamConnectionError } from './errors.js'
import { type ConnectOptions, openWebSocket, webSocketUrl } from './websocket.js'

export interface FollowOptions extends ConnectOptions {
  /** Start at this byte; negative counts from the end (default 0). */
  readonly offset?: number
  /** Wait for a resource that was never written instead of failing with 404. */
  readonly wait?: boolean
}

/**
 * Follows a resource over fstream.v1: a Readable of its bytes from `offset`, then of every byte
 * appended live; it ends when the server closes normally (the follower has everything and nobody
 * appends) and fails with `FSTREAM_ERR_CONNECTION` if the session breaks, `FSTREAM_ERR_NOT_FOUND`
 * for a resource never written (without `wait`). Backpressure: when the consumer stops reading,
 * the socket is paused and the server stops sending.
 */
export function follow(url: string | URL, options: FollowOptions = {}): Readable {
  const target = webSocketUrl(url)
  if (options.offset !== undefined) target.searchParams.set('offset', String(options.offset))
  if (options.wait) target.searchParams.set('wait', '1')
  let ws: WebSocket | undefined
  const stream = new Readable({
    read() {
      if (ws?.isPaused) ws.resume()
    },
    destroy(error, callback) {
      ws?.terminate()
      callback(error)
    },
  })
  openWebSocket(target, options, (data, isBinary) => {
    if (isBinary && !stream.push(data)) ws?.pause()
  }).then(
    (socket) => {
      ws = socket
      if (stream.destroyed) socket.terminate()
      socket.once('close', (code: number, reason: Buffer) => {
        if (code === 1000) stream.push(null)
        else {
          stream.destroy(
            new FstreamConnectionError(
              `${url}: the follow session ended (${code} ${reason.toString()})`,
            ),
          )
        }
      })
    },
    (error: Error) => stream.destroy(error),
  )
  return stream
}
