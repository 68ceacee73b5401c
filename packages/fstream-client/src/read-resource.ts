import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { FstreamConnectionError, type FstreamError, refusal } from './errors.js'

export interface ReadResourceOptions {
  /** Start at this byte (a `Range` request); default 0. */
  readonly offset?: number
  /** Aborts the request and destroys the stream. */
  readonly signal?: AbortSignal
  /** Bearer token for a server that requires one to read. */
  readonly token?: string
}

/**
 * Reads the stored content of a resource with a plain GET: a Readable of its bytes from
 * `offset`. Rejects with `FSTREAM_ERR_NOT_FOUND` (never written), `FSTREAM_ERR_UNAUTHORIZED`,
 * `FSTREAM_ERR_CONNECTION`; a body cut short makes the stream fail, never end cleanly.
 */
export async function readResource(
  url: string | URL,
  options: ReadResourceOptions = {},
): Promise<Readable> {
  const offset = options.offset ?? 0
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`invalid offset ${offset}`)
  let res: Response
  try {
    res = await fetch(url, {
      headers: {
        ...(offset > 0 ? { range: `bytes=${offset}-` } : {}),
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      },
      ...(options.signal ? { signal: options.signal } : {}),
    })
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error
    const cause = (error as { cause?: { code?: string } }).cause
    throw new FstreamConnectionError(
      `${url}: cannot connect (${cause?.code ?? (error as Error).message})`,
      {
        cause: error,
      },
    )
  }
  if (res.status === 416) {
    // Asking from the end (or beyond it) of the stored content: nothing to read.
    await res.body?.cancel()
    return Readable.from([])
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel()
    throw refusal(res.status, String(url)) satisfies FstreamError
  }
  if (offset > 0 && res.status === 200) {
    await res.body?.cancel()
    throw refusal(res.status, `${url} (the server ignored the Range)`)
  }
  if (res.body === null) return Readable.from([])
  return Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>)
}
