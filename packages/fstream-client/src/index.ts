export { FstreamConnectionError, FstreamError } from './errors.js'
export { type ReadResourceOptions, readResource } from './read-resource.js'
