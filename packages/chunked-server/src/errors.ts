import { brandError, SluiceError } from '@sluice/internal/errors'

/** Every refusal of the origin: a stable `code` and the HTTP status it is answered with. */
export class ChunkedServerError extends SluiceError {
  static {
    brandError(ChunkedServerError, 'ChunkedServerError')
  }
  override name = 'ChunkedServerError'
  /** Stable machine-readable code, `CHUNKED_ERR_*`. */
  declare readonly code: string
}

/** A request target that cannot be an object key (dot segments, NUL, a name too long…). */
export class InvalidKeyError extends ChunkedServerError {
  static {
    brandError(InvalidKeyError, 'CHUNKED_ERR_INVALID_KEY')
  }
  override name = 'InvalidKeyError'
  constructor(target: string, status: 400 | 404) {
    super(`not an object key: ${target}`, 'CHUNKED_ERR_INVALID_KEY', status)
  }
}

/** No object at this key (and, with wait-for-content, none arrived in time): `404`. */
export class ObjectNotFoundError extends ChunkedServerError {
  static {
    brandError(ObjectNotFoundError, 'CHUNKED_ERR_NOT_FOUND')
  }
  override name = 'ObjectNotFoundError'
  constructor(key: string) {
    super(`no object at ${key}`, 'CHUNKED_ERR_NOT_FOUND', 404)
  }
}

/** The key conflicts with another key (`/a` vs `/a/b`): `409`. */
export class KeyConflictError extends ChunkedServerError {
  static {
    brandError(KeyConflictError, 'CHUNKED_ERR_CONFLICT')
  }
  override name = 'KeyConflictError'
  constructor(message: string) {
    super(message, 'CHUNKED_ERR_CONFLICT', 409)
  }
}

/** A symbolic link stands on the key's path in the data directory (never followed): `403`. */
export class SymbolicLinkError extends ChunkedServerError {
  static {
    brandError(SymbolicLinkError, 'CHUNKED_ERR_SYMLINK')
  }
  override name = 'SymbolicLinkError'
  constructor(key: string) {
    super(
      `${key} leads through a symbolic link; links are never followed`,
      'CHUNKED_ERR_SYMLINK',
      403,
    )
  }
}

/** The token the origin requires for this method is missing or wrong: `401`. */
export class UnauthorizedError extends ChunkedServerError {
  static {
    brandError(UnauthorizedError, 'CHUNKED_ERR_UNAUTHORIZED')
  }
  override name = 'UnauthorizedError'
  constructor(action: 'read' | 'write') {
    super(`a valid bearer token is needed to ${action}`, 'CHUNKED_ERR_UNAUTHORIZED', 401)
  }
}

/** A method the origin does not serve: `405`. */
export class MethodNotAllowedError extends ChunkedServerError {
  static {
    brandError(MethodNotAllowedError, 'CHUNKED_ERR_METHOD')
  }
  override name = 'MethodNotAllowedError'
  constructor(method: string) {
    super(`${method} is not supported`, 'CHUNKED_ERR_METHOD', 405)
  }
}

/** An upload larger than `maxObjectSize`: `413`. */
export class ObjectTooLargeError extends ChunkedServerError {
  static {
    brandError(ObjectTooLargeError, 'CHUNKED_ERR_TOO_LARGE')
  }
  override name = 'ObjectTooLargeError'
  constructor(max: number) {
    super(`objects are limited to ${max} bytes`, 'CHUNKED_ERR_TOO_LARGE', 413)
  }
}

/** The storage is full (disk, quota, or the memory budget of `-r`): `507`. */
export class InsufficientStorageError extends ChunkedServerError {
  static {
    brandError(InsufficientStorageError, 'CHUNKED_ERR_INSUFFICIENT_STORAGE')
  }
  override name = 'InsufficientStorageError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'CHUNKED_ERR_INSUFFICIENT_STORAGE', 507, options)
  }
}

/** The upload's body was cut short or malformed (client gone, bad chunked framing): `400`. */
export class UploadAbortedError extends ChunkedServerError {
  static {
    brandError(UploadAbortedError, 'CHUNKED_ERR_UPLOAD_ABORTED')
  }
  override name = 'UploadAbortedError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'CHUNKED_ERR_UPLOAD_ABORTED', 400, options)
  }
}

/** The storage failed for another reason (I/O error): `500`, with the reason. */
export class StorageError extends ChunkedServerError {
  static {
    brandError(StorageError, 'CHUNKED_ERR_STORAGE')
  }
  override name = 'StorageError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'CHUNKED_ERR_STORAGE', 500, options)
  }
}

/**
 * Delivery directives of a playlist GET the origin will not follow: `_HLS_part` without
 * `_HLS_msn`, a value that is not a whole number, a segment (part) too far past the playlist's
 * last, an `_HLS_skip` other than `YES` or `v2`: `400`.
 */
export class BadReloadError extends ChunkedServerError {
  static {
    brandError(BadReloadError, 'CHUNKED_ERR_BAD_RELOAD')
  }
  override name = 'BadReloadError'
  constructor(message: string) {
    super(message, 'CHUNKED_ERR_BAD_RELOAD', 400)
  }
}

/**
 * A blocking playlist reload that no update satisfied within three target durations, or that was
 * held when the server shut down: `503`.
 */
export class ReloadUnavailableError extends ChunkedServerError {
  static {
    brandError(ReloadUnavailableError, 'CHUNKED_ERR_RELOAD_UNAVAILABLE')
  }
  override name = 'ReloadUnavailableError'
  constructor(message: string) {
    super(message, 'CHUNKED_ERR_RELOAD_UNAVAILABLE', 503)
  }
}

/** Uses a body sent in a transfer coding other than `chunked`: `501`. */
export class UnsupportedTransferCodingError extends ChunkedServerError {
  static {
    brandError(UnsupportedTransferCodingError, 'CHUNKED_ERR_TRANSFER_CODING')
  }
  override name = 'UnsupportedTransferCodingError'
  constructor(codings: string) {
    super(
      `Transfer-Encoding "${codings}" is not supported: send the body as is or chunked`,
      'CHUNKED_ERR_TRANSFER_CODING',
      501,
    )
  }
}

/**
 * What an upload's failure is, for its answer and its readers: a file-system error is the
 * storage's (`507` when full, else `500`); anything else while the body was incomplete is the
 * client's (`400`).
 */
export function uploadFailure(error: unknown, bodyComplete: boolean): ChunkedServerError {
  if (error instanceof ChunkedServerError) return error
  const { code, syscall } = error as NodeJS.ErrnoException
  const message = (error as Error).message
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new InsufficientStorageError("no space left on the server's storage", { cause: error })
  }
  if (syscall === undefined && !bodyComplete) {
    return new UploadAbortedError(`the upload was cut short (${message})`, { cause: error })
  }
  return new StorageError(`cannot store the object (${message})`, { cause: error })
}
