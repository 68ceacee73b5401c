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
  /** Largest data message sent to a follower, bytes (undefined: as large as the data read). */
  readonly maxMessage?: number
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
 * messages. Their appender sends any bytes as text frames (the original server never checked
 * UTF-8), so a text frame's bytes are stored exactly as they came, unchecked (the legacy sessions'
 * ws server skips UTF-8 validation; fstream.v1 stays strict). A binary frame is refused with 1003,
 * never dropped silently. Their follower reads at most 32 KiB of each message and drops the rest
 * (it was written for a server that relayed the appender's own `io.Copy` writes), so followers
 * get data in unfragmented messages of at most 32 KiB.
 */
export const LEGACY: Framing = {
  name: 'legacy',
  control: () => {},
  appendFrame: (_data, isBinary) =>
    isBinary
      ? {
          code: CLOSE.unsupportedData,
          reason: 'binary frames need the fstream.v1 subprotocol (legacy data is sent as text)',
        }
      : 'data',
  binaryData: false,
  maxMessage: 32 * 1024,
}
