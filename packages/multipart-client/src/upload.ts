import { setTimeout as sleep } from 'node:timers/promises'
import { bodyLength, createBoundary, encodeBody } from './encode.js'
import { ConnectionError, InvalidArgumentError, UploadAbortedError } from './errors.js'
import { type Part, type PreparedPart, preparePart, releaseSource } from './parts.js'
import { type RequestOptions, sendRequest, type UploadResponse } from './request.js'

/** Progress of an upload, reported as bytes are handed to the connection. */
export interface UploadProgress {
  /** Body bytes sent so far (boundaries and part headers included). */
  readonly loaded: number
  /** Whole body length, when every part's size is known. */
  readonly total: number | undefined
  /** Name of the part being sent (undefined for the closing boundary). */
  readonly part: string | undefined
}

/** Opt-in retries: only for parts that can be reopened, only when no response was received. */
export interface RetryOptions {
  /** Further attempts after the first (default 3). */
  readonly retries?: number
  /** First backoff in ms, doubled each time, with jitter (default 250). */
  readonly minDelay?: number
  /** Longest wait in ms, Retry-After included (default 30 000). */
  readonly maxDelay?: number
  /** Also retry these statuses (default 408, 429, 503), honouring Retry-After. */
  readonly statuses?: readonly number[]
}

export interface UploadOptions extends RequestOptions {
  /** Called as bytes are handed to the socket. */
  readonly onProgress?: (progress: UploadProgress) => void
  /** Retries (a number is `retries`); off unless set. */
  readonly retry?: number | RetryOptions
}

function retryDelay(attempt: number, retry: Required<RetryOptions>, retryAfter?: string): number {
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter)
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now()
    if (Number.isFinite(ms)) return Math.min(Math.max(0, ms), retry.maxDelay)
  }
  const base = retry.minDelay * 2 ** attempt
  return Math.min(base / 2 + Math.random() * (base / 2), retry.maxDelay)
}

function retryPolicy(retry: UploadOptions['retry']): Required<RetryOptions> | undefined {
  if (retry === undefined || retry === 0) return undefined
  const options = typeof retry === 'number' ? { retries: retry } : retry
  return {
    retries: options.retries ?? 3,
    minDelay: options.minDelay ?? 250,
    maxDelay: options.maxDelay ?? 30_000,
    statuses: options.statuses ?? [408, 429, 503],
  }
}

/**
 * Uploads `parts` as one multipart/form-data request on one connection, streaming every source:
 * memory does not grow with the size of the upload. When every size is known the request has an
 * exact Content-Length, otherwise it is chunked.
 *
 * A refused connection rejects at once with `MPC_ERR_CONNECTION` (its cause attached) unless
 * `retry` is set. A server that answers before the body is complete (413, 401) stops the upload
 * and its response is returned. Node stream sources the upload did not read to their end (parts
 * after an early response or a failure) are destroyed when it settles, closing their files.
 *
 * @example
 * const res = await upload('http://127.0.0.1:8080/', [
 *   { name: 'title', value: 'holiday' },
 *   { name: 'video', path: './big.mp4' },
 * ])
 * console.log(res.status, await res.body.text())
 */
export async function upload(
  url: string | URL,
  parts: readonly Part[],
  options: UploadOptions = {},
): Promise<UploadResponse> {
  if (options.signal?.aborted) throw new UploadAbortedError({ cause: options.signal.reason })
  try {
    return await uploadParts(url, parts, options)
  } finally {
    for (const part of parts) if ('source' in part) releaseSource(part.source)
  }
}

async function uploadParts(
  url: string | URL,
  parts: readonly Part[],
  options: UploadOptions,
): Promise<UploadResponse> {
  const boundary = createBoundary()
  const prepared: PreparedPart[] = []
  for (const part of parts) prepared.push(await preparePart(part, boundary))
  const retry = retryPolicy(options.retry)
  const unopenable = prepared.find((part) => !part.reopenable)
  if (retry && unopenable) {
    throw new InvalidArgumentError(
      `retry needs parts that can be reopened; part "${unopenable.name}" is a one-shot stream`,
    )
  }
  const total = bodyLength(prepared, boundary)
  for (let attempt = 0; ; attempt++) {
    let loaded = 0
    const body = encodeBody(prepared, boundary, (bytes, part) => {
      loaded += bytes
      options.onProgress?.({ loaded, total, part })
    })
    let delay: number | undefined
    try {
      const response = await sendRequest(url, body, boundary, total, options)
      if (!retry || attempt >= retry.retries || !retry.statuses.includes(response.status)) {
        return response
      }
      const retryAfter = response.headers['retry-after']
      delay = retryDelay(attempt, retry, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter)
      await response.body.dump()
    } catch (error) {
      if (!(error instanceof ConnectionError) || !retry || attempt >= retry.retries) throw error
      delay = retryDelay(attempt, retry)
    } finally {
      // Closes the file of an interrupted part.
      await body.return(undefined)
    }
    try {
      await sleep(delay, undefined, options.signal ? { signal: options.signal } : {})
    } catch (error) {
      throw new UploadAbortedError({ cause: error })
    }
  }
}
