import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import { type Dispatcher, request } from 'undici'
import {
  ConnectionError,
  MultipartClientError,
  UploadAbortedError,
  UploadTimeoutError,
} from './errors.js'

/** Options shared by `upload()` and `MultipartClient`. */
export interface RequestOptions {
  /** HTTP method (default `POST`). */
  readonly method?: string
  /** Extra request headers; Content-Type and Content-Length are set by the client. */
  readonly headers?: Readonly<Record<string, string>>
  /** undici dispatcher: an Agent, Pool, ProxyAgent… (default: undici's global dispatcher). */
  readonly dispatcher?: Dispatcher
  /** Aborts the upload: files are closed, the socket destroyed, the promise rejects with MPC_ERR_ABORTED. */
  readonly signal?: AbortSignal
  /** ms to wait for the response headers once the body is sent (default 300 000). */
  readonly headersTimeout?: number
  /** ms without any data moving in either direction before failing (default 300 000). */
  readonly bodyTimeout?: number
}

/** The server's answer. Read or dump `body`: an unread body holds the connection. */
export interface UploadResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  /** undici's body: a Readable with `text()`, `json()`, `arrayBuffer()`, `dump()`. */
  readonly body: Dispatcher.ResponseData['body']
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_INFO',
])

/** Maps what undici (or a source) threw to this package's errors, keeping it as `cause`. */
export function toClientError(error: unknown): MultipartClientError {
  if (error instanceof MultipartClientError) return error
  const err = error as { code?: string; name?: string; message?: string; cause?: unknown }
  if (err?.cause instanceof MultipartClientError) return err.cause
  const code = err?.code ?? (err?.cause as { code?: string } | undefined)?.code
  if (code === 'UND_ERR_ABORTED' || err?.name === 'AbortError') {
    return new UploadAbortedError({ cause: error })
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new UploadTimeoutError(err.message ?? code, { cause: error })
  }
  if (code !== undefined && CONNECTION_CODES.has(code)) {
    return new ConnectionError(`connection failed (${code}): ${err.message ?? ''}`.trim(), {
      cause: error,
    })
  }
  return new MultipartClientError(err?.message ?? String(error), 'MPC_ERR_UNKNOWN', {
    cause: error,
  })
}

/** Sends one request with a streamed body; rejects with a MultipartClientError. */
export async function sendRequest(
  url: string | URL,
  body: AsyncIterable<Uint8Array>,
  boundary: string,
  length: number | undefined,
  options: RequestOptions,
): Promise<UploadResponse> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (!/^content-(type|length)$/i.test(name)) headers[name.toLowerCase()] = value
  }
  headers['content-type'] = `multipart/form-data; boundary=${boundary}`
  if (length !== undefined) headers['content-length'] = String(length)
  try {
    const response = await request(url, {
      method: (options.method ?? 'POST') as Dispatcher.HttpMethod,
      headers,
      // undici streams async iterables (pulling the next chunk once the last was written); its
      // typings only list Readable.
      body: body as unknown as Readable,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.headersTimeout === undefined ? {} : { headersTimeout: options.headersTimeout }),
      ...(options.bodyTimeout === undefined ? {} : { bodyTimeout: options.bodyTimeout }),
    })
    return { status: response.statusCode, headers: response.headers, body: response.body }
  } catch (error) {
    throw toClientError(error)
  }
}
