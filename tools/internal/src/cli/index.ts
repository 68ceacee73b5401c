export { withDataDirectory } from './data-directory.js'
export { CannotStartError, ExitError, UsageError } from './errors.js'
export {
  byteSizeOption,
  countOption,
  millisecondsOption,
  offsetOption,
  pathOption,
  portOption,
  readOption,
  secretOption,
} from './options.js'
export {
  type CommandLine,
  type CommandLineSpec,
  type ParseArgsOptionsConfig,
  parseCommandLine,
} from './parse.js'
export { type Command, packageVersion, runCommand } from './run.js'
export { scratchDir } from './scratch.js'
export { type Served, type ServeOptions, serve, urlOf } from './serve.js'
