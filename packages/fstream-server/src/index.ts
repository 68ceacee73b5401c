export {
  AppendConflictError,
  BadSessionRequestError,
  FstreamServerError,
  MethodNotAllowedError,
  OffsetOutOfRangeError,
  ResourceGoneError,
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
  type FstreamServer,
  type FstreamServerOptions,
  PROTOCOL,
} from './server.js'
export { FileStorage } from './storage/files.js'
export type {
  AppendTarget,
  FollowRequest,
  FollowSource,
  ResourceStorage,
} from './storage/index.js'
export { JetStreamStorage, type JetStreamStorageOptions } from './storage/jetstream.js'
