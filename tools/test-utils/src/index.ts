export { type ListeningServer, listen } from './listen.js'
export { type PayloadFile, payloadFile, tempDir } from './payload.js'
export { type PeakRssSampler, samplePeakRss } from './peak-rss.js'
export { type CliResult, type RunCliOptions, runCli } from './run-cli.js'
