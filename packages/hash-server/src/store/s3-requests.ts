import { setTimeout as sleep } from 'node:timers/promises'
import { HashServerError, StoreFailedError, StoreUnavailableError } from '../errors.js'

/** Attempts of one S3 request when it fails on the way (no answer, 5xx, 429). */
const ATTEMPTS = 3
const FIRST_BACKOFF_MS = 200

interface SdkError {
  readonly name?: string
  readonly message?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
}

function statusOf(error: unknown): number | undefined {
  return (error as SdkError).$metadata?.httpStatusCode
}

/** S3's "no such key / bucket" (HeadObject's 404 has no error body, hence `NotFound`). */
export function isNotFound(error: unknown): boolean {
  const name = (error as SdkError).name
  return statusOf(error) === 404 || name === 'NotFound' || name === 'NoSuchKey'
}

function retryable(error: unknown): boolean {
  const status = statusOf(error)
  return status === undefined || status >= 500 || status === 429
}

/** A failed S3 request as the error a client is answered with: 503 unreachable, else 502. */
export function storeError(operation: string, error: unknown): HashServerError {
  if (error instanceof HashServerError) return error
  const { name = 'Error', message = String(error) } = error as SdkError
  const status = statusOf(error)
  const text = `S3 ${operation} failed: ${status === undefined ? '' : `${status} `}${name}: ${message}`
  return status === undefined || status === 503 || status === 429
    ? new StoreUnavailableError(text, { cause: error })
    : new StoreFailedError(text, { cause: error })
}

/**
 * Runs one S3 request, again after a short wait when it failed on the way (up to three times, and
 * only while `canRetry` says so: a streamed body can be sent again only if none of it was read);
 * rejects with a {@link storeError}, or with the signal's reason once it aborts.
 */
export async function s3Request<T>(
  operation: string,
  signal: AbortSignal | undefined,
  send: () => Promise<T>,
  canRetry: () => boolean = () => true,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send()
    } catch (error) {
      if (signal?.aborted) throw signal.reason
      if (attempt >= ATTEMPTS || !retryable(error) || !canRetry()) {
        throw storeError(operation, error)
      }
      await sleep(FIRST_BACKOFF_MS * 4 ** (attempt - 1), undefined, signal ? { signal } : {})
    }
  }
}
