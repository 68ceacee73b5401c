export {
  AppendConflictError,
  BadSessionRequestError,
  FstreamServerError,
  MethodNotAllowedError,
  OffsetOutOfRangeError,
  ResourceNotFoundError,
  StorageError,
  SymbolicLinkError,
  UnauthorizedError,
} from './errors.js'
export {
  createFstreamServer,
  createHandlers,
  createRequestHandler,
  type FstreamHandlers,
  type FstreamServerOptions,
  PROTOCOL,
} from './server.js'
