import { type FileHandle, stat } from 'node:fs/promises'
import type { WebSocket } from 'ws'
import type { LiveResource } from './resources.js'

const READ_SIZE = 256 * 1024
/** Bytes queued on a follower's socket before it waits for them to be sent. */
const QUEUE_LIMIT = 256 * 1024

function send(ws: WebSocket, chunk: Buffer, binary = true, fin = true): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.send(chunk, { binary, fin }, (error) => (error ? reject(error) : resolve()))
  })
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
 * Runs one FOLLOW session (fstream.v1; `legacy` for httpfstream's text framing): `{"type":"ready","offset":N}` (where it starts, a negative offset
 * resolved), then binary frames from there to the end of the file, then live data as
 * it is appended; close 1000 once the follower has everything and nobody appends. A follower
 * reads the stored file at its own pace in 256 KiB reads, and waits whenever more than 256 KiB are
 * queued on its socket: a slow follower costs the appender and the others nothing.
 */
export async function runFollow(
  ws: WebSocket,
  file: FileHandle,
  path: string,
  offset: number,
  live: () => LiveResource | undefined,
  legacy = false,
): Promise<void> {
  try {
    const storedSize = async () => live()?.size ?? (await stat(path)).size
    let position = offset < 0 ? Math.max(0, (await storedSize()) + offset) : offset
    if (legacy) {
      // httpfstream's framing: the current content as one text message (sent in fragments, so
      // memory stays flat), an empty message, then the appended data as text messages.
      position = 0
      const initial = await storedSize()
      do {
        const length = Math.min(READ_SIZE, initial - position)
        const { bytesRead, buffer } = await file.read(
          Buffer.allocUnsafe(length),
          0,
          length,
          position,
        )
        position += bytesRead
        await send(ws, buffer.subarray(0, bytesRead), false, position >= initial || bytesRead === 0)
      } while (position < initial)
      await send(ws, Buffer.alloc(0), false)
    } else {
      // Where this session starts, so that a follower can resume after a broken connection.
      ws.send(JSON.stringify({ type: 'ready', offset: position }))
    }
    while (ws.readyState === ws.OPEN) {
      const size = await storedSize()
      if (position < size) {
        const length = Math.min(READ_SIZE, size - position)
        const { bytesRead, buffer } = await file.read(
          Buffer.allocUnsafe(length),
          0,
          length,
          position,
        )
        if (bytesRead === 0) break
        position += bytesRead
        const sent = send(ws, buffer.subarray(0, bytesRead), !legacy)
        if (ws.bufferedAmount > QUEUE_LIMIT) await sent
        else sent.catch(() => {})
        continue
      }
      const resource = live()
      if (resource === undefined || !resource.appending) {
        ws.close(1000, 'end of resource')
        break
      }
      await nextEvent(ws, resource)
    }
  } catch {
    ws.terminate()
  } finally {
    await file.close()
  }
}
