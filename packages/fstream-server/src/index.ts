export {
  createFstreamServer,
  createRequestHandler,
  type FstreamRequestHandler,
  type FstreamServerOptions,
} from './server.js'
