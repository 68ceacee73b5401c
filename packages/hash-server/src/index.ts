export { supportedAlgorithms } from './algorithms.js'
export {
  BodyTooLargeError,
  ClientAbortedError,
  DigestMismatchError,
  HashServerError,
  InvalidHeaderError,
  MalformedMultipartError,
  UnsupportedAlgorithmError,
  UnsupportedTransferCodingError,
} from './errors.js'
export { createHashHandler, type HashHandler, type HashHandlerOptions } from './handler.js'
export { type HashStreamOptions, hashStream, type StreamDigests } from './hash-stream.js'
export type { HashMetrics } from './metrics.js'
export type { MultipartLimits, PartDigests } from './multipart.js'
export { createHashServer, type HashServer, type HashServerOptions } from './server.js'
