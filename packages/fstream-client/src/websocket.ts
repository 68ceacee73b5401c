import { type ControlMessage, PROTOCOL, parseControl } from '@sluice/internal/fstream'
import WebSocket from 'ws'
import {
  FstreamConnectionError,
  type FstreamError,
  FstreamProtocolError,
  refusal,
} from './errors.js'

/** The server's WebSocket subprotocol. */
export { PROTOCOL }

/** What a session does with what the server sends. */
export interface SessionHandlers {
  /** A control message (`ready`, `ack`), validated. */
  onControl(message: ControlMessage): void
  /** Bytes of the resource (binary frames). */
  onData(data: Buffer): void
}

/** An open fstream.v1 session. */
export interface Session {
  readonly ws: WebSocket
  /** Set once the server broke the protocol; the session is then terminated. */
  protocolError(): FstreamError | undefined
}

export interface ConnectOptions {
  readonly token?: string
  readonly signal?: AbortSignal
  readonly headers?: Readonly<Record<string, string>>
  /**
   * Mask the frames this client sends with an all-zero key (ws's `generateMask`), which spares the
   * XOR of every byte on both sides: about 15% of an appender's CPU. RFC 6455 masking protects
   * proxies from payloads chosen by a hostile page in a browser; a Node program sending its own
   * data on a network you trust does not need it, but a zero key is not what the RFC intends, so it
   * is off by default.
   */
  readonly zeroMask?: boolean
}

/**
 * Resolves with a WebSocket's close code and reason. (Not events.once, which rejects when an
 * 'error' comes first and so loses the close that always follows it.)
 */
export function closeOf(ws: WebSocket): Promise<[code: number, reason: Buffer]> {
  return new Promise((resolve) =>
    ws.once('close', (code: number, reason: Buffer) => resolve([code, reason])),
  )
}

/** `http(s)://` → `ws(s)://`; `ws(s)://` as is. */
export function webSocketUrl(url: string | URL): URL {
  const parsed = new URL(url)
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:'
  else if (parsed.protocol === 'https:') parsed.protocol = 'wss:'
  return parsed
}

/** Characters of a refusal's body kept as its reason. */
const MAX_REASON = 500

/**
 * Opens an fstream.v1 session: binary frames go to `onData`, text frames must be control
 * messages (anything else terminates the session with `FSTREAM_ERR_PROTOCOL`, reported by
 * `protocolError()`, never thrown from a listener). Rejects with the refusal's stable code (404,
 * 409, 401 answered before the upgrade) or `FSTREAM_ERR_CONNECTION`. Removes its abort listener
 * once settled.
 */
export function openSession(
  url: URL,
  options: ConnectOptions,
  handlers: SessionHandlers,
): Promise<Session> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`
    const ws = new WebSocket(url, PROTOCOL, {
      headers,
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
      ...(options.zeroMask ? { generateMask: (mask: Buffer) => void mask.fill(0) } : {}),
    })
    let failure: FstreamError | undefined
    // From the start: frames can come in the same packet as the handshake.
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (failure) return
      if (isBinary) {
        handlers.onData(data)
        return
      }
      const message = parseControl(data.toString())
      if (message === undefined) {
        failure = new FstreamProtocolError(
          `${url}: the server sent a malformed control message: ${JSON.stringify(data.toString().slice(0, 100))}`,
        )
        ws.terminate()
        return
      }
      handlers.onControl(message)
    })
    const onAbort = () => {
      ws.terminate()
      reject(options.signal?.reason ?? new Error('aborted'))
    }
    const settle = () => options.signal?.removeEventListener('abort', onAbort)
    if (options.signal?.aborted) return onAbort()
    options.signal?.addEventListener('abort', onAbort, { once: true })
    ws.once('open', () => {
      settle()
      // Later errors are followed by 'close', which the session handles.
      ws.on('error', () => {})
      resolve({ ws, protocolError: () => failure })
    })
    ws.once('unexpected-response', (_req, res) => {
      settle()
      // The refusal's reason, as the server words it: the first bytes of its body.
      let reason = ''
      res.setEncoding('utf8')
      res.on('data', (text: string) => {
        if (reason.length < MAX_REASON) reason += text.slice(0, MAX_REASON - reason.length)
      })
      const refuse = () => {
        ws.terminate()
        reject(refusal(res.statusCode ?? 0, String(url), reason))
      }
      res.once('end', refuse).once('error', refuse).once('aborted', refuse)
    })
    ws.once('error', (error) => {
      settle()
      const code = (error as NodeJS.ErrnoException).code ?? error.message
      reject(new FstreamConnectionError(`${url}: cannot connect (${code})`, { cause: error }))
    })
  })
}
