export { type ByteRange, parseByteRange } from './byte-range.js'
export { resolveUnderRoot } from './resolve-path.js'
export { type ServeFileOptions, serveFile } from './serve-file.js'
