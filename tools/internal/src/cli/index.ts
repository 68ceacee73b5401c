export { readCommandLine } from './command-line.js'
export { type ServeOptions, serveUntilSignal, urlOf } from './serve-until-signal.js'
