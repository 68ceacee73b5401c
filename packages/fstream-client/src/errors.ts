import { CLOSE } from '@sluice/internal/fstream'

/** Every error of this package: a stable `code`, the HTTP status when there was one, `cause`. */
export class FstreamError extends Error {
  override name = 'FstreamError'
  /** `FSTREAM_ERR_*`. */
  readonly code: string
  readonly status: number | undefined

  constructor(message: string, code: string, status?: number, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.status = status
  }
}

/** The server could not be reached or the connection broke. */
export class FstreamConnectionError extends FstreamError {
  override name = 'FstreamConnectionError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'FSTREAM_ERR_CONNECTION', undefined, options)
  }
}

/** Maps a refusal status to its stable code; `reason` is what the server said, when it said it. */
export function refusal(status: number, url: string, reason = ''): FstreamError {
  const [code, what] =
    status === 404
      ? ['FSTREAM_ERR_NOT_FOUND', 'no such resource']
      : status === 401 || status === 403
        ? ['FSTREAM_ERR_UNAUTHORIZED', 'not authorized']
        : status === 409
          ? ['FSTREAM_ERR_CONFLICT', 'conflict']
          : status === 416
            ? ['FSTREAM_ERR_OFFSET', 'offset past the end of the resource']
            : status === 410
              ? ['FSTREAM_ERR_GONE', 'no longer stored']
              : ['FSTREAM_ERR_HTTP', `unexpected HTTP status ${status}`]
  const said = reason.trim() === '' ? '' : `: ${reason.trim()}`
  return new FstreamError(`${url}: ${what} (${status})${said}`, code, status)
}

/** The server sent something fstream.v1 does not allow (a malformed control message). */
export class FstreamProtocolError extends FstreamError {
  override name = 'FstreamProtocolError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'FSTREAM_ERR_PROTOCOL', undefined, options)
  }
}

/**
 * The error a session's close code says, when it says more than "the connection ended":
 * the resource was deleted (`FSTREAM_ERR_GONE`), or another appender took it over
 * (`FSTREAM_ERR_CONFLICT`).
 */
export function closeError(url: string, code: number, reason: string): FstreamError | undefined {
  if (code === CLOSE.gone) {
    return new FstreamError(`${url}: the resource was deleted (${reason})`, 'FSTREAM_ERR_GONE', 410)
  }
  if (code === CLOSE.superseded) {
    return new FstreamError(
      `${url}: another appender took the resource over (${reason})`,
      'FSTREAM_ERR_CONFLICT',
      409,
    )
  }
  return undefined
}
