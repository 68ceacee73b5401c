export { type CorsOptions, parseCorsFile } from './cors.js'
export {
  BadReloadError,
  ChunkedServerError,
  InsufficientStorageError,
  InvalidKeyError,
  KeyConflictError,
  MethodNotAllowedError,
  ObjectNotFoundError,
  ObjectTooLargeError,
  ReloadUnavailableError,
  StorageError,
  SymbolicLinkError,
  UnauthorizedError,
  UnsupportedTransferCodingError,
  UploadAbortedError,
} from './errors.js'
export {
  type ChunkedHandler,
  type ChunkedServer,
  type ChunkedServerOptions,
  createChunkedHandler,
  createChunkedServer,
} from './handler.js'
export type { ChunkedMetrics, GetState } from './metrics.js'
export type { ObjectMeta } from './storage.js'
