import { isUtf8 } from 'node:buffer'
import { CLOSE, type ControlMessage, encodeControl, PROTOCOL } from '@sluice/internal/fstream'
import type { WebSocket } from 'ws'

/** What a frame from an appender is: data to append, nothing, or a reason to close. */
export type AppendFrame = 'data' | 'ignore' | { readonly code: number; readonly reason: string }

/** How a session speaks: fstream.v1, or httpfstream's legacy text framing. */
export interface Framing {
  readonly name: typeof PROTOCOL | 'legacy'
  /** Sends a control message where the framing has them. */
  control(ws: WebSocket, message: ControlMessage): void
  /** Judges a message from an appender. */
  appendFrame(data: Buffer, isBinary: boolean): AppendFrame
  /** Whether data goes to followers in binary frames. */
  readonly binaryData: boolean
}

/** fstream.v1: binary frames are data, text frames carry control messages. */
export const V1: Framing = {
  name: PROTOCOL,
  control: (ws, message) => ws.send(encodeControl(message)),
  appendFrame: (_data, isBinary) => (isBinary ? 'data' : 'ignore'),
  binaryData: true,
}

/**
 * httpfstream's own clients: data travels in text frames and the server sends no control
 * messages. Text must be UTF-8 for every WebSocket peer to read it, so binary data (in a binary
 * frame, or bytes that are not UTF-8 in a text frame, which their Go client sends) is refused
 * with 1003, never dropped silently: it needs fstream.v1.
 */
export const LEGACY: Framing = {
  name: 'legacy',
  control: () => {},
  appendFrame: (data, isBinary) =>
    !isBinary && isUtf8(data)
      ? 'data'
      : {
          code: CLOSE.unsupportedData,
          reason: 'binary data needs the fstream.v1 subprotocol (legacy text must be UTF-8)',
        },
  binaryData: false,
}
