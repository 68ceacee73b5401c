// Typechecked against the packed package, installed alone (`pnpm check:package`).
import {
  ChunkedServerError,
  type ChunkedServerOptions,
  createChunkedHandler,
  createChunkedServer,
} from '@sluice/chunked-server'

const options: ChunkedServerOptions = {
  root: './content',
  waitMs: 2_000,
  expire: true,
  headersTimeout: 10_000,
  metricsPath: '/_ops/metrics',
}
createChunkedServer(options).listen(0, '127.0.0.1')
const handler = createChunkedHandler({ root: './content', memoryBudget: 64 * 1024 * 1024 })
handler.metrics.liveReaders.inc()
// @ts-expect-error headersTimeout is a number of milliseconds
createChunkedServer({ root: '.', headersTimeout: 'soon' })
// @ts-expect-error root is required
createChunkedServer({ waitMs: 1 })
// @ts-expect-error healthPath is a path
createChunkedServer({ root: '.', healthPath: 42 })
export const codeOf = (error: unknown): string | undefined =>
  error instanceof ChunkedServerError ? `${error.code} ${error.status}` : undefined
