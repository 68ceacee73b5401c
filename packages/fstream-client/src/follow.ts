import { Readable } from 'node:stream'
import { CLOSE, QUERY } from '@sluice/internal/fstream'
import type WebSocket from 'ws'
import { closeError, FstreamConnectionError } from './errors.js'
import { attemptsOf, retryDelay } from './reconnect.js'
import { type ResourceUrl, ResourceUrls } from './urls.js'
import { type ConnectOptions, openSession, webSocketUrl } from './websocket.js'

export interface FollowOptions extends ConnectOptions {
  /** Start at this byte; negative counts from the end (default 0). */
  readonly offset?: number
  /** Wait for a resource that was never written instead of failing with 404. */
  readonly wait?: boolean
  /**
   * After a broken session, reconnect and resume at the next byte (no gap, no duplicate):
   * `true` for 10 attempts, or a number of attempts; waits 100 ms, doubling up to 5 s.
   */
  readonly reconnect?: boolean | number
}

/**
 * Follows a resource over fstream.v1: a Readable of its bytes from `offset`, then of every byte
 * appended live; it ends when the server closes normally (the follower has everything and nobody
 * appends) and fails with `FSTREAM_ERR_CONNECTION` if the session breaks, `FSTREAM_ERR_NOT_FOUND`
 * for a resource never written (without `wait`). Backpressure: when the consumer stops reading,
 * the socket is paused and the server stops sending.
 */
export function follow(url: ResourceUrl, options: FollowOptions = {}): Readable {
  const urls = new ResourceUrls(url)
  const attempts = attemptsOf(options.reconnect)
  // Before the first session, each URL is tried once when its server cannot be reached.
  let untried = urls.count - 1
  let ws: WebSocket | undefined
  // The absolute position of the next byte, known once the server says where it started.
  let position: number | undefined
  let failures = 0
  const stream = new Readable({
    // Frames are up to 256 KiB: a small buffer would pause the socket after every one of them.
    highWaterMark: 1024 * 1024,
    read() {
      if (ws?.isPaused) ws.resume()
    },
    destroy(error, callback) {
      ws?.terminate()
      callback(error)
    },
  })

  const connect = (): void => {
    const target = webSocketUrl(urls.current)
    const offset = position ?? options.offset
    if (offset !== undefined) target.searchParams.set(QUERY.offset, String(offset))
    // A resumed session may find the resource before its first byte is written again.
    if (options.wait || position !== undefined) target.searchParams.set(QUERY.wait, '1')
    openSession(target, options, {
      onControl: (message) => {
        if (message.type === 'ready') position = message.offset
      },
      onData: (data) => {
        if (position !== undefined) position += data.length
        failures = 0
        if (!stream.push(data)) ws?.pause()
      },
    }).then(
      (session) => {
        ws = session.ws
        if (stream.destroyed) session.ws.terminate()
        session.ws.once('close', (code: number, reason: Buffer) => {
          const broken =
            session.protocolError() ?? closeError(String(urls.current), code, reason.toString())
          if (broken) stream.destroy(broken)
          else if (code === CLOSE.normal) stream.push(null)
          else
            retry(
              new FstreamConnectionError(
                `${urls.current}: the follow session ended (${code} ${reason.toString()})`,
              ),
            )
        })
      },
      (error: Error) => retry(error),
    )
  }

  const retry = (error: Error): void => {
    const connectionLost = error instanceof FstreamConnectionError
    if (!stream.destroyed && connectionLost && position === undefined && untried > 0) {
      untried--
      urls.next()
      connect()
      return
    }
    if (stream.destroyed || !connectionLost || failures >= attempts || position === undefined) {
      stream.destroy(error)
      return
    }
    // The next server, if there are several: this one may be gone.
    urls.next()
    setTimeout(connect, retryDelay(failures))
    failures++
  }

  connect()
  return stream
}
