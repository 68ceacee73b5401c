import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'

/** One frame as a client puts it on the wire, with every field open to abuse. */
export interface FrameSpec {
  readonly opcode: number
  readonly payload?: Buffer
  readonly fin?: boolean
  readonly rsv1?: boolean
  /** Mask the payload as RFC 6455 requires of clients (default true). */
  readonly mask?: boolean
  /** Announce this length instead of the payload's (64-bit form). */
  readonly announcedLength?: bigint
}

/** Encodes a client frame (RFC 6455 §5.2). */
export function frame(spec: FrameSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0)
  const masked = spec.mask ?? true
  const first = (spec.fin === false ? 0 : 0x80) | (spec.rsv1 ? 0x40 : 0) | spec.opcode
  let header: Buffer
  const length = spec.announcedLength ?? BigInt(payload.length)
  if (spec.announcedLength === undefined && payload.length < 126) {
    header = Buffer.from([first, payload.length])
  } else if (spec.announcedLength === undefined && payload.length < 65536) {
    header = Buffer.alloc(4)
    header[0] = first
    header[1] = 126
    header.writeUInt16BE(payload.length, 2)
  } else {
    header = Buffer.alloc(10)
    header[0] = first
    header[1] = 127
    header.writeBigUInt64BE(length, 2)
  }
  if (masked) header[1] = (header[1] ?? 0) | 0x80
  if (!masked) return Buffer.concat([header, payload])
  const key = randomBytes(4)
  const body = Buffer.from(payload)
  for (let i = 0; i < body.length; i++) body[i] = (body[i] ?? 0) ^ (key[i % 4] ?? 0)
  return Buffer.concat([header, key, body])
}

export const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const

/** A close frame's payload: code and reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason))
  payload.writeUInt16BE(code, 0)
  payload.write(reason, 2)
  return payload
}

/** What the server sent on a raw session. */
export interface RawSession {
  readonly socket: Socket
  /** Text messages (control messages in fstream.v1). */
  readonly texts: string[]
  /** Bytes of binary and text data frames, in order. */
  readonly data: Buffer[]
  /** Resolves with the server's close frame (code 1005 when it had none), or 1006 when the connection ended without one. */
  readonly closed: Promise<{ code: number; reason: string }>
  send(...frames: Buffer[]): void
}

/**
 * Opens a WebSocket over a plain TCP socket, with our own framing, so that a test can send what
 * no WebSocket library would. Resolves once the server answered 101; rejects with its status
 * line otherwise, or when the connection ends without an answer.
 */
export function openRawSession(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawSession> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    const texts: string[] = []
    const data: Buffer[] = []
    let buffered = Buffer.alloc(0)
    let upgraded = false
    let settleClose: (value: { code: number; reason: string }) => void = () => {}
    const closed = new Promise<{ code: number; reason: string }>((done) => {
      settleClose = done
    })
    socket.on('close', () => {
      if (!upgraded) reject(new Error('the connection was closed without an answer'))
      settleClose({ code: 1006, reason: '' })
    })
    const parseFrames = () => {
      while (buffered.length >= 2) {
        const opcode = (buffered[0] ?? 0) & 0x0f
        let length = (buffered[1] ?? 0) & 0x7f
        let offset = 2
        if (length === 126) {
          if (buffered.length < 4) return
          length = buffered.readUInt16BE(2)
          offset = 4
        } else if (length === 127) {
          if (buffered.length < 10) return
          length = Number(buffered.readBigUInt64BE(2))
          offset = 10
        }
        if (buffered.length < offset + length) return
        const payload = buffered.subarray(offset, offset + length)
        buffered = buffered.subarray(offset + length)
        if (opcode === OPCODE.close) {
          settleClose(
            payload.length >= 2
              ? { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString() }
              : { code: 1005, reason: '' },
          )
        } else if (opcode === OPCODE.text) {
          texts.push(payload.toString())
          data.push(Buffer.from(payload))
        } else if (opcode === OPCODE.binary || opcode === OPCODE.continuation) {
          data.push(Buffer.from(payload))
        }
      }
    }
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      if (!upgraded) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end === -1) return
        const head = buffered.subarray(0, end).toString()
        buffered = buffered.subarray(end + 4)
        if (!head.startsWith('HTTP/1.1 101')) {
          socket.destroy()
          reject(new Error(head.split('\r\n')[0]))
          return
        }
        upgraded = true
        resolve({
          socket,
          texts,
          data,
          closed,
          send: (...frames) => socket.write(Buffer.concat(frames)),
        })
      }
      parseFrames()
    })
    const lines = [
      `GET ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ]
    socket.write(`${lines.join('\r\n')}\r\n\r\n`)
  })
}
