export { type CorsOptions, parseCorsFile } from './cors.js'
export {
  type ChunkedHandler,
  type ChunkedServer,
  type ChunkedServerOptions,
  createChunkedHandler,
  createChunkedServer,
} from './handler.js'
export type { ObjectMeta } from './storage.js'
