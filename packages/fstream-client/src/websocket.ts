import WebSocket from 'ws'
import { FstreamConnectionError, refusal } from './errors.js'

/** The server's WebSocket subprotocol. */
export const PROTOCOL = 'fstream.v1'

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

/** `http(s)://` → `ws(s)://`; `ws(s)://` as is. */
export function webSocketUrl(url: string | URL): URL {
  const parsed = new URL(url)
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:'
  else if (parsed.protocol === 'https:') parsed.protocol = 'wss:'
  return parsed
}

/**
 * Opens an fstream.v1 WebSocket, handing every message to `onMessage`. Rejects with the refusal's stable code (404, 409, 401 answered
 * before the upgrade) or `FSTREAM_ERR_CONNECTION`. Removes its abort listener once settled.
 */
export function openWebSocket(
  url: URL,
  options: ConnectOptions,
  onMessage: (data: Buffer, isBinary: boolean) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`
    const ws = new WebSocket(url, PROTOCOL, {
      headers,
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
      ...(options.zeroMask ? { generateMask: (mask: Buffer) => void mask.fill(0) } : {}),
    })
    // From the start: frames can come in the same packet as the handshake.
    ws.on('message', onMessage)
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
      resolve(ws)
    })
    ws.once('unexpected-response', (_req, res) => {
      settle()
      res.resume()
      ws.terminate()
      reject(refusal(res.statusCode ?? 0, String(url)))
    })
    ws.once('error', (error) => {
      settle()
      const code = (error as NodeJS.ErrnoException).code ?? error.message
      reject(new FstreamConnectionError(`${url}: cannot connect (${code})`, { cause: error }))
    })
  })
}
