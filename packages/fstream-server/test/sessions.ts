import { once } from 'node:events'
import WebSocket from 'ws'
import { PROTOCOL } from '../src/index.js'

/** A client session that records what it receives. */
export interface Session extends WebSocket {
  /** Control messages received so far. */
  control: Array<{ type: string; offset: number }>
  /** Binary frames received so far. */
  frames: Buffer[]
}

/**
 * Opens a WebSocket that records every message from the start (frames can arrive in the same
 * packet as the handshake); rejects with the HTTP status of a refusal.
 */
export function connect(url: string, headers: Record<string, string> = {}): Promise<Session> {
  return new Promise((resolve, reject) => {
    const ws = Object.assign(new WebSocket(url, PROTOCOL, { headers, perMessageDeflate: false }), {
      control: [] as Session['control'],
      frames: [] as Buffer[],
    })
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) ws.frames.push(data)
      else ws.control.push(JSON.parse(data.toString()) as { type: string; offset: number })
    })
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) =>
      reject(Object.assign(new Error('refused'), { status: res.statusCode })),
    )
    ws.once('error', reject)
  })
}

/** Appends chunks and resolves with the last acknowledged offset once the server closed. */
export async function appendAll(ws: Session, chunks: Buffer[]): Promise<number> {
  const start = () => ws.control.find((m) => m.type === 'ready')?.offset ?? -1
  const acked = () => ws.control.filter((m) => m.type === 'ack').at(-1)?.offset ?? -1
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0)
  for (const chunk of chunks) ws.send(chunk)
  while (start() < 0 || acked() < start() + total) await once(ws, 'message')
  ws.close(1000)
  await once(ws, 'close')
  return acked()
}

/** Follows until the server closes; resolves with the bytes and the close code. */
export async function followAll(ws: Session): Promise<{ bytes: Buffer; code: number }> {
  const [code] = (await once(ws, 'close')) as [number]
  return { bytes: Buffer.concat(ws.frames), code }
}
