/** Every error this package raises: a stable `code`, and the underlying error as `cause`. */
export class MultipartClientError extends Error {
  override name = 'MultipartClientError'
  /** Stable machine-readable code, `MPC_ERR_*`. */
  readonly code: string

  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/** The connection could not be made or broke before a response (refused, reset, DNS, TLS). */
export class ConnectionError extends MultipartClientError {
  override name = 'ConnectionError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'MPC_ERR_CONNECTION', options)
  }
}

/** The upload was aborted through its `signal` (or the client was closed by `abort()`). */
export class UploadAbortedError extends MultipartClientError {
  override name = 'AbortError'
  constructor(options?: ErrorOptions) {
    super('the upload was aborted', 'MPC_ERR_ABORTED', options)
  }
}

/** No response headers (`headersTimeout`) or no progress (`bodyTimeout`) within the time set. */
export class UploadTimeoutError extends MultipartClientError {
  override name = 'TimeoutError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'MPC_ERR_TIMEOUT', options)
  }
}

/** A part's source failed (file missing or unreadable, stream error) or broke its declared size. */
export class SourceError extends MultipartClientError {
  override name = 'SourceError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'MPC_ERR_SOURCE', options)
  }
}

/** A part or an option is invalid (no name, a retry with a source that cannot be reopened, …). */
export class InvalidArgumentError extends MultipartClientError {
  override name = 'InvalidArgumentError'
  constructor(message: string) {
    super(message, 'MPC_ERR_INVALID_ARGUMENT')
  }
}

/**
 * The server answered before the whole body was sent (413, 401, …): the rest is not sent.
 * `close()`/`send()` still resolve with that response; parts not yet sent reject with this.
 */
export class EarlyResponseError extends MultipartClientError {
  override name = 'EarlyResponseError'
  readonly status: number
  constructor(status: number) {
    super(`the server answered ${status} before the upload was complete`, 'MPC_ERR_EARLY_RESPONSE')
    this.status = status
  }
}
