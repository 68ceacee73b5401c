export {
  type ChunkedHandler,
  type ChunkedServerOptions,
  createChunkedHandler,
  createChunkedServer,
} from './handler.js'
export type { ObjectMeta } from './store.js'
