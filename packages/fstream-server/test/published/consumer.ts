// Typechecked against the packed package, installed alone (`pnpm check:package`).
import {
  createFstreamServer,
  FstreamServerError,
  type FstreamServerOptions,
  PROTOCOL,
} from '@sluice/fstream-server'

const options: FstreamServerOptions = {
  root: './data',
  maxResourceSize: 1024 ** 3,
  headersTimeout: 10_000,
  healthPath: '/healthz',
}
createFstreamServer(options)
const protocol: 'fstream.v1' = PROTOCOL
// @ts-expect-error headersTimeout is a number of milliseconds
createFstreamServer({ root: '.', headersTimeout: 'soon' })
// @ts-expect-error metricsPath is a path
createFstreamServer({ root: '.', metricsPath: true })
export const codeOf = (error: unknown): string | undefined =>
  error instanceof FstreamServerError ? `${protocol} ${error.code}` : undefined
