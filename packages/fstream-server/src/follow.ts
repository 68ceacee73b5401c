import type { FileHandle } from 'node:fs/promises'
import { CLOSE } from '@sluice/internal/fstream'
import type { WebSocket } from 'ws'
import type { Framing } from './framing.js'
import type { LiveResource } from './resources.js'

const READ_SIZE = 256 * 1024
/** Bytes queued on a follower's socket before it waits for some of them to be sent. */
const QUEUE_LIMIT = 512 * 1024

function send(ws: WebSocket, chunk: Buffer, binary = true, fin = true): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.send(chunk, { binary, fin }, (error) => (error ? reject(error) : resolve()))
  })
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const { bytesRead, buffer } = await file.read(Buffer.allocUnsafe(length), 0, length, position)
  return buffer.subarray(0, bytesRead)
}

/** Resolves on the next event that can change what the follower does. */
function nextEvent(ws: WebSocket, resource: LiveResource): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      resource.off('data', done).off('end', done)
      ws.off('close', done)
      resolve()
    }
    resource.once('data', done).once('end', done)
    ws.once('close', done)
  })
}

/**
 * Runs one FOLLOW session: `{"type":"ready","offset":N}` (where it starts, a negative offset
 * resolved), then data frames from there to the end of the file, then live data as it is
 * appended; close 1000 once the follower has everything and nobody appends. In legacy framing
 * (httpfstream's clients, only while an appender is active) the current content comes first as
 * one text message, then an empty message, then the appended data.
 *
 * A follower reads at its own pace (the newest data from memory, older data from the file in
 * 256 KiB reads) and waits whenever more than 512 KiB are queued on its socket: a slow follower
 * costs the appender and the others nothing.
 */
export async function runFollow(
  ws: WebSocket,
  file: FileHandle,
  offset: number,
  live: () => LiveResource | undefined,
  framing: Framing,
  log: (message: string) => void,
): Promise<void> {
  try {
    const storedSize = async () => live()?.size ?? (await file.stat()).size
    let position = offset < 0 ? Math.max(0, (await storedSize()) + offset) : offset
    if (framing.binaryData) {
      // Where this session starts, so that a follower can resume after a broken connection.
      framing.control(ws, { type: 'ready', offset: position })
    } else {
      // httpfstream's framing: the current content as one text message (sent in fragments, so
      // memory stays flat), an empty message, then the appended data as text messages.
      position = 0
      const initial = await storedSize()
      do {
        const length = Math.min(READ_SIZE, initial - position)
        const bytes = await readAt(file, position, length)
        position += bytes.length
        await send(ws, bytes, false, position >= initial || bytes.length === 0)
      } while (position < initial)
      await send(ws, Buffer.alloc(0), false)
    }
    // Sends not yet handed to the socket, oldest first: the loop reads ahead while they drain.
    const unsent: Promise<void>[] = []
    let known = 0
    while (ws.readyState === ws.OPEN) {
      // The file's size is looked up again only once we have caught up with what we knew.
      if (position >= known) known = await storedSize()
      if (position < known) {
        const length = Math.min(READ_SIZE, known - position)
        const bytes = live()?.recent(position, length) ?? (await readAt(file, position, length))
        if (bytes.length === 0) break
        position += bytes.length
        const sent = send(ws, bytes, framing.binaryData)
        sent.catch(() => {})
        unsent.push(sent)
        while (ws.bufferedAmount > QUEUE_LIMIT && unsent.length > 0) await unsent.shift()
        if (unsent.length > 16) unsent.shift()
        continue
      }
      const resource = live()
      if (resource === undefined || !resource.appending) {
        ws.close(CLOSE.normal, 'end of resource')
        break
      }
      await nextEvent(ws, resource)
    }
  } catch (error) {
    // A send that fails because the follower left is no failure of the server.
    if (ws.readyState === ws.OPEN) log(`FOLLOW failed: ${(error as Error).message}`)
    ws.terminate()
  } finally {
    await file.close()
  }
}
