export { type ByteRange, parseByteRange } from './byte-range.js'
export { whenClientLeaves } from './client-gone.js'
export { requestBody } from './request-body.js'
export {
  fileRepresentation,
  type Representation,
  type ServeFileOptions,
  serveFile,
  serveRepresentation,
  type UnservableReason,
} from './serve-file.js'
export {
  closeSessionsOnClose,
  createHttpServer,
  DEFAULT_HEADERS_TIMEOUT,
  hardenServer,
  PARSE_ERROR,
  parseErrorOf,
  type ServerTimeouts,
} from './server.js'
export { unsupportedTransferCoding } from './transfer-coding.js'
