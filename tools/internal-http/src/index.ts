export { type ByteRange, parseByteRange } from './byte-range.js'
export { readCommandLine } from './command-line.js'
export { RecentBytes } from './recent-bytes.js'
export { requestBody } from './request-body.js'
export { resolveUnderRoot } from './resolve-path.js'
export {
  type Representation,
  type ServeFileOptions,
  serveFile,
  serveRepresentation,
} from './serve-file.js'
export { type ServeOptions, serveUntilSignal, urlOf } from './serve-until-signal.js'
export { writeAll } from './write-all.js'
