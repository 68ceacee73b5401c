/**
 * Every refusal of the server, answered before any WebSocket upgrade (or to a plain GET): a
 * stable `code` and the HTTP status it is answered with. Sessions end with close codes instead.
 */
export class FstreamServerError extends Error {
  override name = 'FstreamServerError'
  /** Stable machine-readable code, `FSTREAM_ERR_*`. */
  readonly code: string
  readonly status: number

  constructor(message: string, code: string, status: number, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.status = status
  }
}

/** A malformed session request: another subprotocol, an unknown verb, a bad offset (`400`). */
export class BadSessionRequestError extends FstreamServerError {
  override name = 'BadSessionRequestError'
  constructor(message: string) {
    super(message, 'FSTREAM_ERR_BAD_REQUEST', 400)
  }
}

/** The token the server requires is missing or wrong (`401`). */
export class UnauthorizedError extends FstreamServerError {
  override name = 'UnauthorizedError'
  constructor(action: string) {
    super(`a valid token is needed to ${action}`, 'FSTREAM_ERR_UNAUTHORIZED', 401)
  }
}

/** A symbolic link stands where the resource is, or on its path (never followed): `403`. */
export class SymbolicLinkError extends FstreamServerError {
  override name = 'SymbolicLinkError'
  constructor() {
    super('the resource is a symbolic link; links are never followed', 'FSTREAM_ERR_SYMLINK', 403)
  }
}

/** No such resource: never written, or a path that cannot name one (`404`). */
export class ResourceNotFoundError extends FstreamServerError {
  override name = 'ResourceNotFoundError'
  constructor() {
    super('no such resource', 'FSTREAM_ERR_NOT_FOUND', 404)
  }
}

/** A method other than GET, HEAD and DELETE on a resource (`405`). */
export class MethodNotAllowedError extends FstreamServerError {
  override name = 'MethodNotAllowedError'
  constructor(method: string) {
    super(`${method} is not supported here`, 'FSTREAM_ERR_METHOD', 405)
  }
}

/** Another appender is active, or `?offset=` is not the resource's length (`409`). */
export class AppendConflictError extends FstreamServerError {
  override name = 'AppendConflictError'
  constructor(message: string) {
    super(message, 'FSTREAM_ERR_CONFLICT', 409)
  }
}

/** A FOLLOW from an offset past the end of the resource (`416`). */
export class OffsetOutOfRangeError extends FstreamServerError {
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
  override name = 'ResourceGoneError'
  constructor(message: string) {
    super(message, 'FSTREAM_ERR_GONE', 410)
  }
}

/** The resource cannot be stored or read (`500`), with the reason. */
export class StorageError extends FstreamServerError {
  override name = 'StorageError'
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'FSTREAM_ERR_STORAGE', 500, options)
  }
}
