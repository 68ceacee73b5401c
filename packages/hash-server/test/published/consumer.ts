// Typechecked against the packed package, installed alone (`pnpm check:package`).
import {
  createHashServer,
  HashServerError,
  type HashServerOptions,
  hashStream,
  supportedAlgorithms,
} from '@sluice/hash-server'

const options: HashServerOptions = {
  algorithms: ['md5', 'sha256'],
  maxBodySize: 1024 * 1024,
  headersTimeout: 10_000,
  keepAliveTimeout: 5_000,
  healthPath: '/healthz',
  tus: { path: '/files/', directory: '/var/lib/hash-server/tus', expire: 3_600_000 },
  token: 'secret',
}
const server = createHashServer(options)
server.handler.metrics.render()
// @ts-expect-error headersTimeout is a number of milliseconds
createHashServer({ headersTimeout: 'soon' })
// @ts-expect-error the tus endpoint needs a directory for uploads in progress
createHashServer({ tus: { path: '/files/' } })
// @ts-expect-error maxBodySize is a number of bytes
createHashServer({ maxBodySize: '1M' })
const algorithms: readonly string[] = supportedAlgorithms()
// @ts-expect-error the list of algorithms is read-only
supportedAlgorithms().push('md4')
export const codeOf = (error: unknown): string | undefined =>
  error instanceof HashServerError ? error.code : undefined
export const digests = hashStream(process.stdin, algorithms)
