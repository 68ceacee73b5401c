import type { FileHandle } from 'node:fs/promises'
import { writeAll } from '@sluice/internal-http'
import type { WebSocket } from 'ws'
import type { LiveResource } from './resources.js'

/** Bytes received but not yet written at which the appender's socket is paused. */
const PAUSE_AT = 4 * 1024 * 1024

export interface AppendOptions {
  readonly maxSize: number
  readonly heartbeatMs: number
  /** httpfstream's clients: text frames are data too, and the server sends no control messages. */
  readonly legacy?: boolean
}

/**
 * Runs one APPEND session: `{"type":"ready","offset":N}` first (the resource's length); then
 * binary frames are appended in order, and as fsyncs complete (beside the writes, each covering
 * all that was written before it started), a text frame `{"type":"ack","offset":N}` tells the
 * appender that the first N bytes of the resource are durable. Text frames from the appender are ignored. The session ends when the
 * appender closes (everything received is written and synced first) or stops answering pings.
 */
export function runAppend(
  ws: WebSocket,
  file: FileHandle,
  resource: LiveResource,
  options: AppendOptions,
): Promise<void> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  let writing: Promise<void> | undefined
  let syncing: Promise<void> | undefined
  let durable = resource.size
  let failed = false

  const fail = (error: Error) => {
    failed = true
    ws.close(1011, `cannot store: ${error.message}`.slice(0, 120))
  }
  // Durability runs beside the writes: each fsync covers everything written before it started,
  // so acknowledgements come as often as the disk allows without slowing the writes down.
  const sync = (): Promise<void> => {
    syncing ??= (async () => {
      while (durable < resource.size && !failed) {
        const target = resource.size
        await file.datasync()
        durable = target
        if (ws.readyState === ws.OPEN && !options.legacy) {
          ws.send(JSON.stringify({ type: 'ack', offset: durable }))
        }
      }
    })()
      .catch(fail)
      .finally(() => {
        syncing = undefined
      })
    return syncing
  }
  const flush = async (): Promise<void> => {
    while (pending.length > 0 && !failed) {
      const batch = pending
      pending = []
      pendingBytes = 0
      await writeAll(file, batch)
      resource.grow(batch)
      sync()
      if (ws.isPaused && pendingBytes < PAUSE_AT) ws.resume()
    }
  }
  const schedule = () => {
    writing ??= flush()
      .catch(fail)
      .finally(() => {
        writing = undefined
        if (pending.length > 0 && !failed) schedule()
      })
  }

  // Where this session starts: a client that did not ask for an offset learns it here.
  if (!options.legacy) ws.send(JSON.stringify({ type: 'ready', offset: resource.size }))
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if ((!isBinary && !options.legacy) || failed) return
    if (resource.size + pendingBytes + data.length > options.maxSize) {
      failed = true
      ws.close(1009, `the resource may not grow past ${options.maxSize} bytes`)
      return
    }
    pending.push(data)
    pendingBytes += data.length
    if (pendingBytes >= PAUSE_AT) ws.pause()
    schedule()
  })

  let alive = true
  ws.on('pong', () => {
    alive = true
  })
  const heartbeat = setInterval(() => {
    if (!alive) {
      ws.terminate()
      return
    }
    alive = false
    ws.ping()
  }, options.heartbeatMs)
  heartbeat.unref()

  return new Promise((resolve) => {
    ws.once('close', () => {
      clearInterval(heartbeat)
      const done = async () => {
        while (writing) await writing
        while (syncing || (durable < resource.size && !failed)) await (syncing ?? sync())
        await file.close().catch(() => {})
        resolve()
      }
      done()
    })
  })
}
