export { supportedAlgorithms } from './algorithms.js'
export {
  BodyTooLargeError,
  ChecksumMismatchError,
  ClientAbortedError,
  DigestMismatchError,
  HashServerError,
  InvalidHeaderError,
  MalformedMultipartError,
  OffsetConflictError,
  StoreFailedError,
  StoreUnavailableError,
  TooManyUploadsError,
  TusVersionError,
  UnauthorizedError,
  UnsupportedAlgorithmError,
  UnsupportedMediaTypeError,
  UnsupportedTransferCodingError,
  UploadGoneError,
  UploadLengthExceededError,
  UploadNotFoundError,
} from './errors.js'
export { createHashHandler, type HashHandler, type HashHandlerOptions } from './handler.js'
export { type HashStreamOptions, hashStream, type StreamDigests } from './hash-stream.js'
export type { HashMetrics } from './metrics.js'
export type { MultipartLimits, PartDigests } from './multipart.js'
export { createHashServer, type HashServer, type HashServerOptions } from './server.js'
export { DiskStore } from './store/disk.js'
export type { BodyHint, ObjectStore, PendingObject, Unopenable } from './store/index.js'
export { S3Store, type S3StoreOptions } from './store/s3.js'
export type { TusOptions } from './tus/tus-service.js'
