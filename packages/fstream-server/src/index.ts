export {
  createFstreamServer,
  createHandlers,
  createRequestHandler,
  type FstreamHandlers,
  type FstreamServerOptions,
  PROTOCOL,
} from './server.js'
