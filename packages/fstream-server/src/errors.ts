import { brandError, SluiceError } from '@sluice/internal/errors'

/**
 * Every refusal of the server, answered before any WebSocket upgrade (or to a plain GET): a
 * stable `code` and the HTTP status it is answered with. Sessions end with close codes instead.
 */
export class FstreamServerError extends SluiceError {
  static {
    brandError(FstreamServerError, 'FstreamServerError')
  }
  override name = 'FstreamServerError'
  /** Stable machine-readable code, `FSTREAM_ERR_*`. */
  declare readonly code: string
}

/** A malformed session request: another subprotocol, an unknown verb, a bad offset (`400`). */
export class BadSessionRequestError extends FstreamServerError {
  static {
    brandError(BadSessionRequestError, 'FSTREAM_ERR_BAD_REQUEST')
  }
  override name = 'BadSessionRequestError'
  constructor(message: string) {
    super(message, 'FSTREAM_ERR_BAD_REQUEST', 400)
  }
}

/** The token the server requires is missing or wrong (`401`). */
export class UnauthorizedError extends FstreamServerError {
  static {
    brandError(UnauthorizedError, 'FSTREAM_ERR_UNAUTHORIZED')
  }
  override name = 'UnauthorizedError'
  constructor(action: string) {
    super(`a valid token is needed to ${action}`, 'FSTREAM_ERR_UNAUTHORIZED', 401)
  }
}

/** A symbolic link stands where the resource is, or on its path (never followed): `403`. */
export class SymbolicLinkError extends FstreamServerError {
  static {
    brandError(SymbolicLinkError, 'FSTREAM_ERR_SYMLINK')
  }
  override name = 'SymbolicLinkError'
  constructor() {
    super('the resource is a symbolic link; links are never followed', 'FSTREAM_ERR_SYMLINK', 403)
  }
}

/** No such resource: never written, or a path that cannot name one (`404`). */
export class ResourceNotFoundError extends FstreamServerError {
  static {
    brandError(ResourceNotFoundError, 'FSTREAM_ERR_NOT_FOUND')
  }
  override name = 'ResourceNotFoundError'
  constructor() {
    super('no such resource', 'FSTREAM_ERR_NOT_FOUND', 404)
  }
}

/** A method other than GET, HEAD and DELETE on a resource (`405`). */
export class MethodNotAllowedError extends FstreamServerError {
  static {
    brandError(MethodNotAllowedError, 'FSTREAM_ERR_METHOD')
  }
  override name = 'MethodNotAllowedError'
  constructor(method: string) {
    super(`${method} is not supported here`, 'FSTREAM_ERR_METHOD', 405)
  }
}

/** Another appender is active, or `?offset=` is not the resource's length (`409`). */
export class AppendConflictError extends FstreamServerError {
  static {
    brandError(AppendConflictError, 'FSTREAM_ERR_CONFLICT')
  }
  override name = 'AppendConflictError'
  constructor(message: string) {
    super(message, 'FSTREAM_ERR_CONFLICT', 409)
  }
}

/** A FOLLOW from an offset past the end of the resource (`416`). */
export class OffsetOutOfRangeError extends FstreamServerError {
  static {
    brandError(OffsetOutOfRangeError, 'FSTREAM_ERR_OFFSET')
  }
  override name = 'OffsetOutOfRangeError'
  constructor(size: number, offset: number) {
    super(
      `the resource is ${size} bytes: offset ${offset} does not exist yet`,
      'FSTREAM_ERR_OFFSET',
      416,
    )
  }
}

/**
 * The resource, or the part of it asked for, is no longer stored: deleted, or removed by the
 * storage's limits (`410`). A session that is running when it happens is closed with
 * `CLOSE.gone`.
 */
export class ResourceGoneError extends FstreamServerError {
  static {
    brandError(ResourceGoneError, 'FSTREAM_ERR_GONE')
  }
  override name = 'ResourceGoneError'
  constructor(message: string) {
    super(message, 'FSTREAM_ERR_GONE', 410)
  }
}

/** The resource cannot be stored or read (`500`), with the reason. */
export class StorageError extends FstreamServerError {
  static {
    brandError(StorageError, 'FSTREAM_ERR_STORAGE')
  }
  override name = 'StorageError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'FSTREAM_ERR_STORAGE', 500, options)
  }
}
