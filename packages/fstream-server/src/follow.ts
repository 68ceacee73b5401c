import type { FileHandle } from 'node:fs/promises'
import { CLOSE } from '@sluice/internal/fstream'
import { LiveBytes, readLive, type StoredBytes } from '@sluice/internal/live'
import type { WebSocket } from 'ws'
import type { Framing } from './framing.js'

const READ_SIZE = 256 * 1024
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

/** A resource's stored bytes, read from its open file. */
function fileBytes(file: FileHandle): StoredBytes {
  return {
    async read(position, length) {
      const { bytesRead, buffer } = await file.read(Buffer.allocUnsafe(length), 0, length, position)
      return buffer.subarray(0, bytesRead)
    },
  }
}

/**
 * httpfstream's framing: the current content (in the framing's messages, memory stays flat), then
 * an empty message; returns where the content ended.
 */
async function sendCurrentContent(
  sender: DataSender,
  size: number,
  stored: StoredBytes,
  options: FollowOptions,
) {
  for await (const bytes of readLive(LiveBytes.finished(size), stored, { chunkSize: READ_SIZE })) {
    options.sent?.(bytes.length)
    await sender.send(bytes)
  }
  await sender.send(Buffer.alloc(0))
  return size
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
 * resolved), then data frames from there to the end of the file, then live data as it is
 * appended; close 1000 once the follower has everything and nobody appends. In legacy framing
 * (httpfstream's clients, only while an appender is active) the current content comes first, then
 * an empty message, then the appended data, all in text messages of at most 32 KiB.
 *
 * The bytes come from the shared live core (newest from memory, older from the file, at the
 * follower's own pace); this session only adds its transport's backpressure (see DataSender).
 */
export async function runFollow(
  ws: WebSocket,
  file: FileHandle,
  offset: number,
  appending: () => LiveBytes | undefined,
  options: FollowOptions,
): Promise<void> {
  const { framing, log } = options
  const stopped = new AbortController()
  ws.once('close', () => stopped.abort())
  const stored = fileBytes(file)
  try {
    const sender = new DataSender(ws, framing)
    let source = appending() ?? LiveBytes.finished((await file.stat()).size)
    let position = offset < 0 ? Math.max(0, source.size + offset) : offset
    if (framing.binaryData) framing.control(ws, { type: 'ready', offset: position })
    else position = await sendCurrentContent(sender, source.size, stored, options)
    for (;;) {
      const chunks = readLive(source, stored, {
        start: position,
        chunkSize: READ_SIZE,
        signal: stopped.signal,
      })
      for await (const bytes of chunks) {
        position += bytes.length
        options.sent?.(bytes.length)
        await sender.send(bytes)
      }
      if (stopped.signal.aborted) return
      // Caught up with bytes nobody writes to any more; an appender may have started meanwhile.
      const next = appending()
      if (next === undefined || next === source || next.state !== 'receiving') break
      source = next
    }
    ws.close(CLOSE.normal, 'end of resource')
  } catch (error) {
    // A send that fails because the follower left is no failure of the server.
    if (ws.readyState === ws.OPEN) log(`FOLLOW failed: ${(error as Error).message}`)
    ws.terminate()
  } finally {
    await file.close()
  }
}
