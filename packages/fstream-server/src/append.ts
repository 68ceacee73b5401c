import type { FileHandle } from 'node:fs/promises'
import { writeAll } from '@sluice/internal/fs'
import { CLOSE } from '@sluice/internal/fstream'
import type { LiveBytes } from '@sluice/internal/live'
import type { Framing } from './framing.js'
import type { SessionSocket } from './session-socket.js'

/** Bytes received but not yet written at which the appender's socket is paused. */
const PAUSE_AT = 4 * 1024 * 1024

export interface AppendOptions {
  readonly maxSize: number
  readonly heartbeatMs: number
  readonly framing: Framing
  /** Reports a protocol violation or storage failure of this session, once. */
  readonly log: (message: string) => void
}

/**
 * Runs one APPEND session: `{"type":"ready","offset":N}` first (the resource's length); then
 * data frames are appended in order, and as fsyncs complete (beside the writes, each covering
 * all that was written before it started), `{"type":"ack","offset":N}` tells the appender that
 * the first N bytes of the resource are durable.
 *
 * The session ends when the appender closes: the answer to its close frame waits until every
 * byte received is written and synced and the last ack sent, and is 1000 only then (1011 with the
 * reason when storing failed). A protocol violation closes with ws's code (1002, 1007, 1009)
 * after what came before it is stored; an appender that stops answering pings is dropped.
 */
export function runAppend(
  ws: SessionSocket,
  file: FileHandle,
  resource: LiveBytes,
  options: AppendOptions,
): Promise<void> {
  const { framing } = options
  let pending: Buffer[] = []
  let pendingBytes = 0
  let writing: Promise<void> | undefined
  let syncing: Promise<void> | undefined
  let durable = resource.size
  let failure: Error | undefined
  let violation: Error | undefined
  let refusal: { readonly code: number; readonly reason: string } | undefined
  /** Stops taking data; says why once what came before is stored. */
  const refuse = (code: number, reason: string) => {
    refusal = { code, reason }
    options.log(`APPEND closed: ${reason}`)
    settled().then(() => ws.closeNow(code, reason))
  }

  const fail = (error: Error) => {
    if (failure) return
    failure = error
    options.log(`APPEND failed: cannot store: ${error.message}`)
    ws.closeNow(CLOSE.internalError, `cannot store: ${error.message}`.slice(0, 120))
  }
  // Durability runs beside the writes: each fsync covers everything written before it started,
  // so acknowledgements come as often as the disk allows without slowing the writes down.
  const sync = (): Promise<void> => {
    syncing ??= (async () => {
      while (durable < resource.size && !failure) {
        const target = resource.size
        await file.datasync()
        durable = target
        if (ws.readyState === ws.OPEN) framing.control(ws, { type: 'ack', offset: durable })
      }
    })()
      .catch(fail)
      .finally(() => {
        syncing = undefined
      })
    return syncing
  }
  const flush = async (): Promise<void> => {
    while (pending.length > 0 && !failure) {
      const batch = pending
      pending = []
      pendingBytes = 0
      await writeAll(file, batch)
      resource.push(batch)
      sync()
      if (ws.isPaused && pendingBytes < PAUSE_AT) ws.resume()
    }
  }
  const schedule = () => {
    writing ??= flush()
      .catch(fail)
      .finally(() => {
        writing = undefined
        if (pending.length > 0 && !failure) schedule()
      })
  }
  /** Resolves once everything received is written and synced (or storing failed). */
  const settled = async (): Promise<void> => {
    while (writing) await writing
    while (!failure && (syncing || durable < resource.size)) await (syncing ?? sync())
  }

  // The server logs it; the close reply needs to know it.
  ws.on('error', (error: Error) => {
    violation = error
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
    // The session is over once everything received is stored and the file closed: the resource
    // is free for the next appender before the close reply says so.
    let ended: Promise<void> | undefined
    const end = () => {
      ended ??= settled()
        .then(() => file.close())
        .catch(() => {})
        .finally(() => {
          clearInterval(heartbeat)
          resolve()
        })
      return ended
    }
    ws.holdCloseReply(async (code) => {
      await end()
      if (violation && code !== undefined) return [code, violation.message.slice(0, 120)]
      if (failure) return [CLOSE.internalError, `cannot store: ${failure.message}`.slice(0, 120)]
      if (refusal) return [refusal.code, refusal.reason]
      return [CLOSE.normal, `${durable} bytes stored`]
    })
    ws.once('close', end)

    // Where this session starts: a client that did not ask for an offset learns it here.
    framing.control(ws, { type: 'ready', offset: resource.size })
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (failure || refusal || ws.readyState !== ws.OPEN) return
      const judged = framing.appendFrame(data, isBinary)
      if (judged === 'ignore') return
      if (judged !== 'data') return refuse(judged.code, judged.reason)
      if (resource.size + pendingBytes + data.length > options.maxSize) {
        return refuse(CLOSE.tooBig, `the resource may not grow past ${options.maxSize} bytes`)
      }
      pending.push(data)
      pendingBytes += data.length
      if (pendingBytes >= PAUSE_AT) ws.pause()
      schedule()
    })
  })
}
