import { brandError, SluiceError } from '@sluice/internal/errors'

/** Every error this package raises or answers with: a stable `code` and the HTTP status it maps to. */
export class HashServerError extends SluiceError {
  static {
    brandError(HashServerError, 'HashServerError')
  }
  override name = 'HashServerError'
  /** Stable machine-readable code, `HASH_ERR_*`. */
  declare readonly code: string
  /** HTTP status the server answers with when this error ends a request. */
  declare readonly status: number
}

/** `?algorithm=` (or an option) names a hash Node's crypto does not have. */
export class UnsupportedAlgorithmError extends HashServerError {
  static {
    brandError(UnsupportedAlgorithmError, 'HASH_ERR_UNSUPPORTED_ALGORITHM')
  }
  override name = 'UnsupportedAlgorithmError'
  constructor(message: string) {
    super(message, 'HASH_ERR_UNSUPPORTED_ALGORITHM', 400)
  }
}

/** A digest sent by the client (Content-Digest, Repr-Digest, Content-MD5) does not match the body. */
export class DigestMismatchError extends HashServerError {
  static {
    brandError(DigestMismatchError, 'HASH_ERR_DIGEST_MISMATCH')
  }
  override name = 'DigestMismatchError'
  constructor(message: string) {
    super(message, 'HASH_ERR_DIGEST_MISMATCH', 400)
  }
}

/** A request header the server must understand is malformed. */
export class InvalidHeaderError extends HashServerError {
  static {
    brandError(InvalidHeaderError, 'HASH_ERR_INVALID_HEADER')
  }
  override name = 'InvalidHeaderError'
  constructor(message: string) {
    super(message, 'HASH_ERR_INVALID_HEADER', 400)
  }
}

/** The body is larger than `maxBodySize`. */
export class BodyTooLargeError extends HashServerError {
  static {
    brandError(BodyTooLargeError, 'HASH_ERR_BODY_TOO_LARGE')
  }
  override name = 'BodyTooLargeError'
  constructor(limit: number) {
    super(`request body exceeds the limit of ${limit} bytes`, 'HASH_ERR_BODY_TOO_LARGE', 413)
  }
}

/** The multipart/form-data body cannot be parsed or breaks a multipart limit. */
export class MalformedMultipartError extends HashServerError {
  static {
    brandError(MalformedMultipartError, 'HASH_ERR_MALFORMED_MULTIPART')
  }
  override name = 'MalformedMultipartError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'HASH_ERR_MALFORMED_MULTIPART', 400, options)
  }
}

/** The client went away (or the connection broke) before the body was complete. */
export class ClientAbortedError extends HashServerError {
  static {
    brandError(ClientAbortedError, 'HASH_ERR_ABORTED')
  }
  override name = 'ClientAbortedError'
  constructor(options?: ErrorOptions) {
    super(
      'the client aborted the request before its body was complete',
      'HASH_ERR_ABORTED',
      499,
      options,
    )
  }
}

/** The body is sent in a transfer coding other than `chunked` (`gzip, chunked`, say): `501`. */
export class UnsupportedTransferCodingError extends HashServerError {
  static {
    brandError(UnsupportedTransferCodingError, 'HASH_ERR_TRANSFER_CODING')
  }
  override name = 'UnsupportedTransferCodingError'
  constructor(codings: string) {
    super(
      `Transfer-Encoding "${codings}" is not supported: send the body as is or chunked`,
      'HASH_ERR_TRANSFER_CODING',
      501,
    )
  }
}

/** The object store answered a request of ours with an error: `502`. */
export class StoreFailedError extends HashServerError {
  static {
    brandError(StoreFailedError, 'HASH_ERR_STORE')
  }
  override name = 'StoreFailedError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'HASH_ERR_STORE', 502, options)
  }
}

/** The object store cannot be reached, or is overloaded (refused, timed out, 503): `503`. */
export class StoreUnavailableError extends HashServerError {
  static {
    brandError(StoreUnavailableError, 'HASH_ERR_STORE_UNAVAILABLE')
  }
  override name = 'StoreUnavailableError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'HASH_ERR_STORE_UNAVAILABLE', 503, options)
  }
}

/** A write (tus, or a POST/PUT that stores) without the right bearer token: `401`. */
export class UnauthorizedError extends HashServerError {
  static {
    brandError(UnauthorizedError, 'HASH_ERR_UNAUTHORIZED')
  }
  override name = 'UnauthorizedError'
  constructor() {
    super(
      'this server needs a bearer token (Authorization: Bearer …) to store uploads',
      'HASH_ERR_UNAUTHORIZED',
      401,
    )
  }
}

/** A tus request without `Tus-Resumable: 1.0.0`: `412`. */
export class TusVersionError extends HashServerError {
  static {
    brandError(TusVersionError, 'HASH_ERR_TUS_VERSION')
  }
  override name = 'TusVersionError'
  constructor(given: string | undefined) {
    super(
      given === undefined
        ? 'tus requests need a Tus-Resumable header (1.0.0)'
        : `Tus-Resumable "${given}" is not supported: this server speaks tus 1.0.0`,
      'HASH_ERR_TUS_VERSION',
      412,
    )
  }
}

/** No upload by that URL (never created, or expired and removed): `404`. */
export class UploadNotFoundError extends HashServerError {
  static {
    brandError(UploadNotFoundError, 'HASH_ERR_UPLOAD_NOT_FOUND')
  }
  override name = 'UploadNotFoundError'
  constructor() {
    super('no such upload (never created, or expired)', 'HASH_ERR_UPLOAD_NOT_FOUND', 404)
  }
}

/** The upload was terminated (DELETE) or refused (its digest did not match): `410`. */
export class UploadGoneError extends HashServerError {
  static {
    brandError(UploadGoneError, 'HASH_ERR_UPLOAD_GONE')
  }
  override name = 'UploadGoneError'
  constructor(reason: string) {
    super(`the upload is gone: ${reason}`, 'HASH_ERR_UPLOAD_GONE', 410)
  }
}

/** A PATCH whose `Upload-Offset` is not the upload's offset: `409`. */
export class OffsetConflictError extends HashServerError {
  static {
    brandError(OffsetConflictError, 'HASH_ERR_OFFSET_CONFLICT')
  }
  override name = 'OffsetConflictError'
  constructor(given: number, offset: number) {
    super(
      `Upload-Offset ${given} is not the upload's offset (${offset}): ask with HEAD and send from there`,
      'HASH_ERR_OFFSET_CONFLICT',
      409,
    )
  }
}

/** A PATCH (or a POST with data) whose body is not `application/offset+octet-stream`: `415`. */
export class UnsupportedMediaTypeError extends HashServerError {
  static {
    brandError(UnsupportedMediaTypeError, 'HASH_ERR_CONTENT_TYPE')
  }
  override name = 'UnsupportedMediaTypeError'
  constructor() {
    super(
      'upload data must be sent as Content-Type: application/offset+octet-stream',
      'HASH_ERR_CONTENT_TYPE',
      415,
    )
  }
}

/**
 * tus's `460`: a PATCH's `Upload-Checksum` (or `Content-Digest`) does not match its bytes, which
 * are not kept; or the whole upload's digest does not match what the client declared, and the
 * upload is terminated. The message names both digests.
 */
export class ChecksumMismatchError extends HashServerError {
  static {
    brandError(ChecksumMismatchError, 'HASH_ERR_CHECKSUM_MISMATCH')
  }
  override name = 'ChecksumMismatchError'
  constructor(message: string) {
    super(message, 'HASH_ERR_CHECKSUM_MISMATCH', 460)
  }
}

/** A PATCH sends bytes past the upload's `Upload-Length`: `413`. */
export class UploadLengthExceededError extends HashServerError {
  static {
    brandError(UploadLengthExceededError, 'HASH_ERR_UPLOAD_LENGTH_EXCEEDED')
  }
  override name = 'UploadLengthExceededError'
  constructor(length: number) {
    super(
      `the PATCH sends bytes past the upload's Upload-Length (${length})`,
      'HASH_ERR_UPLOAD_LENGTH_EXCEEDED',
      413,
    )
  }
}

/** More uploads in progress than the server keeps: `503` with `Retry-After`. */
export class TooManyUploadsError extends HashServerError {
  static {
    brandError(TooManyUploadsError, 'HASH_ERR_TOO_MANY_UPLOADS')
  }
  override name = 'TooManyUploadsError'
  constructor(limit: number) {
    super(
      `the server already has ${limit} uploads in progress; try again later`,
      'HASH_ERR_TOO_MANY_UPLOADS',
      503,
    )
  }
}
