import { once } from 'node:events'
import type WebSocket from 'ws'
import { FstreamConnectionError } from './errors.js'
import { type ConnectOptions, openWebSocket, webSocketUrl } from './websocket.js'

export interface AppendOptions extends ConnectOptions {
  /** Append only if the resource is exactly this long (resume after a reconnect); else 409. */
  readonly offset?: number
}

/** Bytes sent but not yet on the socket at which `append` waits. */
const HIGH_WATER = 1024 * 1024

function sendChunk(ws: WebSocket, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) =>
    ws.send(chunk, { binary: true }, (e) => (e ? reject(e) : resolve())),
  )
}

/**
 * Appends everything `source` gives to the resource at `url` over one fstream.v1 session and
 * resolves with the resource's durable size once the server has acknowledged the last byte.
 * Rejects with `FSTREAM_ERR_CONFLICT` when another appender is active (or `offset` is not the
 * resource's length), `FSTREAM_ERR_UNAUTHORIZED`, or `FSTREAM_ERR_CONNECTION` when the session
 * breaks before everything is acknowledged.
 */
export async function append(
  url: string | URL,
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  options: AppendOptions = {},
): Promise<number> {
  const target = webSocketUrl(url)
  target.searchParams.set('verb', 'APPEND')
  if (options.offset !== undefined) target.searchParams.set('offset', String(options.offset))
  let start = -1
  let acked = -1
  let sent = 0
  let closed: { code: number; reason: string } | undefined
  let wake: (() => void) | undefined
  const ws = await openWebSocket(target, options, (data, isBinary) => {
    if (isBinary) return
    const message = JSON.parse(data.toString()) as { type?: string; offset?: number }
    if (typeof message.offset !== 'number') return
    if (message.type === 'ready') start = message.offset
    else if (message.type === 'ack') acked = message.offset
    wake?.()
  })
  ws.once('close', (code: number, reason: Buffer) => {
    closed = { code, reason: reason.toString() }
    wake?.()
  })
  const broken = () =>
    new FstreamConnectionError(
      `${url}: the append session ended (${closed?.code ?? 'error'} ${closed?.reason ?? ''}) before the data was acknowledged`,
    )
  const onAbort = () => ws.terminate()
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const chunk of source) {
      if (closed) throw broken()
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      if (bytes.length === 0) continue
      sent += bytes.length
      const delivered = sendChunk(ws, bytes)
      if (ws.bufferedAmount > HIGH_WATER) await delivered
      else delivered.catch(() => {})
    }
    while (!closed && (start < 0 || acked < start + sent) && !(start >= 0 && sent === 0)) {
      await new Promise<void>((resolve) => {
        wake = resolve
      })
    }
    if (closed) throw broken()
    ws.close(1000)
    await once(ws, 'close')
    return start + sent
  } catch (error) {
    ws.terminate()
    if (options.signal?.aborted) throw options.signal.reason ?? error
    throw error
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
}
