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
