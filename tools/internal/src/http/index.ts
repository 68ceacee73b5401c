export { sendAsset } from './asset.js'
export { bearerChallenge, carriesBearer } from './bearer.js'
export { type ByteRange, parseByteRange } from './byte-range.js'
export { whenClientLeaves } from './client-gone.js'
export { aggregateClusterMetrics, clusterSnapshots } from './cluster-metrics.js'
export {
  type Counter,
  type Gauge,
  type Labels,
  METRICS_CONTENT_TYPE,
  Metrics,
  type MetricsSnapshot,
  mergeMetrics,
  renderMetrics,
} from './metrics.js'
export {
  type AccessLog,
  accessLog,
  type CompletedRequest,
  httpMetrics,
  measureExchange,
  observeRequest,
  observers,
  type RequestObserver,
} from './observe.js'
export { PARSE_ERROR, parseErrorOf } from './parse-error.js'
export { type ReportPaths, reportRoute } from './reports.js'
export { abandonRequest, bodyBytesReceived, requestBody } from './request-body.js'
export {
  fileEtag,
  fileRepresentation,
  type Representation,
  type ServeFileOptions,
  serveFile,
  serveRepresentation,
  type UnservableReason,
} from './serve-file.js'
export {
  closeSessionsOnClose,
  createHttpServer,
  DEFAULT_HEADERS_TIMEOUT,
  hardenServer,
  type ServerTimeouts,
} from './server.js'
export { unsupportedTransferCoding } from './transfer-coding.js'
