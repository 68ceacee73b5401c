import { CLOSE } from '@sluice/internal/fstream'
import type { WebSocket } from 'ws'
import { ResourceGoneError } from './errors.js'
import type { Framing } from './framing.js'
import type { FollowSource } from './storage/index.js'

/** Bytes queued on a follower's socket before it waits for some of them to be sent. */
const QUEUE_LIMIT = 512 * 1024

function send(ws: WebSocket, chunk: Buffer, binary: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.send(chunk, { binary }, (error) => (error ? reject(error) : resolve()))
  })
}

/**
 * Sends a follower its data messages, cut to the framing's largest message (slices, no copies),
 * reading ahead while earlier sends drain: it waits only when more than 512 KiB are queued on the
 * socket, so a slow follower costs the appender and the others nothing.
 */
class DataSender {
  readonly #ws: WebSocket
  readonly #framing: Framing
  /** Sends not yet handed to the socket, oldest first. */
  readonly #unsent: Promise<void>[] = []

  constructor(ws: WebSocket, framing: Framing) {
    this.#ws = ws
    this.#framing = framing
  }

  /** Sends `bytes` as one message or more (an empty buffer: one empty message). */
  async send(bytes: Buffer): Promise<void> {
    const max = this.#framing.maxMessage ?? bytes.length
    let at = 0
    do {
      const message = bytes.subarray(at, at + max)
      at += message.length
      const sent = send(this.#ws, message, this.#framing.binaryData)
      sent.catch(() => {})
      this.#unsent.push(sent)
      while (this.#ws.bufferedAmount > QUEUE_LIMIT && this.#unsent.length > 0) {
        await this.#unsent.shift()
      }
      // Its failure (the follower left) is already handled: only its place in the queue goes.
      if (this.#unsent.length > 16) void this.#unsent.shift()
    } while (at < bytes.length)
  }
}

export interface FollowOptions {
  readonly framing: Framing
  /** Reports a failure of this session, once. */
  readonly log: (message: string) => void
  /** Told of each piece of the resource handed to the follower's socket. */
  readonly sent?: (bytes: number) => void
}

/**
 * Runs one FOLLOW session: `{"type":"ready","offset":N}` (where it starts, a negative offset
 * resolved), then data frames from there to the end of what is stored, then live data as it is
 * appended; close 1000 once the follower has everything and nobody appends, `CLOSE.gone` when
 * the resource is deleted meanwhile. In legacy framing (httpfstream's clients, only while an
 * appender is active) the current content comes first, then an empty message, then the appended
 * data, all in text messages of at most 32 KiB.
 *
 * The bytes come from the storage at the follower's own pace; this session only adds its
 * transport's backpressure (see DataSender).
 */
export async function runFollow(
  ws: WebSocket,
  source: FollowSource,
  options: FollowOptions,
): Promise<void> {
  const { framing, log } = options
  const stopped = new AbortController()
  ws.once('close', () => stopped.abort())
  try {
    const sender = new DataSender(ws, framing)
    // Legacy framing marks the end of the current content with an empty message.
    let contentEnd = framing.binaryData ? undefined : source.size
    let position = source.start
    if (framing.binaryData) framing.control(ws, { type: 'ready', offset: position })
    else if (contentEnd === position) {
      await sender.send(Buffer.alloc(0))
      contentEnd = undefined
    }
    for await (let bytes of source.bytes(stopped.signal)) {
      options.sent?.(bytes.length)
      if (contentEnd !== undefined && position + bytes.length >= contentEnd) {
        const split = contentEnd - position
        await sender.send(bytes.subarray(0, split))
        await sender.send(Buffer.alloc(0))
        contentEnd = undefined
        position += split
        bytes = bytes.subarray(split)
        if (bytes.length === 0) continue
      }
      position += bytes.length
      await sender.send(bytes)
    }
    if (stopped.signal.aborted) return
    ws.close(CLOSE.normal, 'end of resource')
  } catch (error) {
    if (error instanceof ResourceGoneError) {
      ws.close(CLOSE.gone, error.message)
      return
    }
    // A send that fails because the follower left is no failure of the server.
    if (ws.readyState === ws.OPEN) {
      log(`FOLLOW failed: ${(error as Error).message}`)
      ws.close(CLOSE.internalError, (error as Error).message.slice(0, 120))
    } else ws.terminate()
  } finally {
    await source.close()
  }
}
