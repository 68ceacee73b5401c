export { type ByteRange, parseByteRange } from './byte-range.js'
export { readCommandLine } from './command-line.js'
export {
  checkDirectoriesBeneath,
  fsReason,
  lstatBeneath,
  NAME_MAX,
  openBeneath,
  rawPathOf,
  relativePathOf,
} from './fs/beneath.js'
export {
  createTempFile,
  prepareTempDirectory,
  type TempFile,
  writeFileAtomically,
} from './fs/temp-file.js'
export {
  CLOSE,
  type ControlMessage,
  encodeControl,
  PROTOCOL,
  parseControl,
  parseOffset,
  QUERY,
  VERB_HEADER,
  type Verb,
} from './fstream/protocol.js'
export { whenClientLeaves } from './http/client-gone.js'
export {
  closeSessionsOnClose,
  createHttpServer,
  DEFAULT_HEADERS_TIMEOUT,
  hardenServer,
  type ServerTimeouts,
} from './http/server.js'
export { unsupportedTransferCoding } from './http/transfer-coding.js'
export { RecentBytes } from './recent-bytes.js'
export { requestBody } from './request-body.js'
export {
  fileRepresentation,
  type Representation,
  type ServeFileOptions,
  serveFile,
  serveRepresentation,
  type UnservableReason,
} from './serve-file.js'
export { type ServeOptions, serveUntilSignal, urlOf } from './serve-until-signal.js'
export { writeAll } from './write-all.js'
