export {
  type AbortedRequestsOptions,
  checkAbortedRequests,
  cutConnection,
  firstBytes,
} from './aborted-requests.js'
export { chromiumPath, launchChromium, paintedShare } from './browser.js'
export { type SelfSignedCertificate, selfSignedCertificate } from './certificate.js'
export { cleanUpAfterTest } from './cleanup.js'
export { type CommandLineConventions, checkCommandLineConventions } from './cli-conventions.js'
export { type CuttingProxy, startCuttingProxy } from './cutting-proxy.js'
export { type ListeningServer, listen } from './listen.js'
export { scrapeMetrics } from './metrics.js'
export {
  busboyParts,
  encodeMultipart,
  type FuzzBody,
  type FuzzPart,
  type FuzzRun,
  type FuzzRunOptions,
  fuzzMultipartBodies,
  fuzzMultipartServer,
  type ParsedPart,
  seededRandom,
} from './multipart-fuzz.js'
export { missingNatsServer, type Nats, type NatsNode, startNats } from './nats.js'
export { type PayloadFile, payloadFile, tempDir } from './payload.js'
export { type PeakRssSampler, samplePeakRss } from './peak-rss.js'
export { type ProcessResources, processResources, repeat } from './process-resources.js'
export { type CliResult, type RunCliOptions, runCli } from './run-cli.js'
export { benchArgs } from './script-args.js'
export { type ServerProcess, startServerProcess } from './server-process.js'
export { missingSmallDisk, onSmallDisk } from './small-disk.js'
export { missingSwift, type SwiftS3, startSwiftS3 } from './swift.js'
export { missingTool } from './tool.js'
export { freePort, missingVarnish, startVarnish, type Varnish } from './varnish.js'
