import type { FileHandle } from 'node:fs/promises'
import { CLOSE } from '@sluice/internal/fstream'
import { LiveBytes, readLive, type StoredBytes } from '@sluice/internal/live'
import type { WebSocket } from 'ws'
import type { Framing } from './framing.js'

const READ_SIZE = 256 * 1024
/** Bytes queued on a follower's socket before it waits for some of them to be sent. */
const QUEUE_LIMIT = 512 * 1024

function send(ws: WebSocket, chunk: Buffer, binary: boolean, fin = true): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.send(chunk, { binary, fin }, (error) => (error ? reject(error) : resolve()))
  })
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
 * httpfstream's framing: the current content as one text message (sent in fragments, so memory
 * stays flat), then an empty message; returns where the content ended.
 */
async function sendCurrentContent(
  ws: WebSocket,
  size: number,
  stored: StoredBytes,
  options: FollowOptions,
) {
  let position = 0
  for await (const bytes of readLive(LiveBytes.finished(size), stored, { chunkSize: READ_SIZE })) {
    position += bytes.length
    options.sent?.(bytes.length)
    await send(ws, bytes, false, position >= size)
  }
  await send(ws, Buffer.alloc(0), false)
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
 * (httpfstream's clients, only while an appender is active) the current content comes first as
 * one text message, then an empty message, then the appended data.
 *
 * The bytes come from the shared live core (newest from memory, older from the file, at the
 * follower's own pace); this session only adds its transport's backpressure: it waits whenever
 * more than 512 KiB are queued on its socket, so a slow follower costs the appender and the
 * others nothing.
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
    let source = appending() ?? LiveBytes.finished((await file.stat()).size)
    let position = offset < 0 ? Math.max(0, source.size + offset) : offset
    if (framing.binaryData) framing.control(ws, { type: 'ready', offset: position })
    else position = await sendCurrentContent(ws, source.size, stored, options)
    // Sends not yet handed to the socket, oldest first: reading goes ahead while they drain.
    const unsent: Promise<void>[] = []
    for (;;) {
      const chunks = readLive(source, stored, {
        start: position,
        chunkSize: READ_SIZE,
        signal: stopped.signal,
      })
      for await (const bytes of chunks) {
        position += bytes.length
        options.sent?.(bytes.length)
        const sent = send(ws, bytes, framing.binaryData)
        sent.catch(() => {})
        unsent.push(sent)
        while (ws.bufferedAmount > QUEUE_LIMIT && unsent.length > 0) await unsent.shift()
        // Its failure (the follower left) is already handled: only its place in the queue goes.
        if (unsent.length > 16) void unsent.shift()
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
