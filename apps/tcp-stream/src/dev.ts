// `pnpm dev`: two TCP services and the gateway in front of them, on fixed local ports.
import { serve } from '@sluice/internal/cli'
import { backendAt } from './backends.js'
import { createGateway } from './gateway.js'
import { createStreamService } from './service.js'

const gatewayPort = Number(process.env['PORT'] ?? 8090)
const servicePorts = [gatewayPort + 11, gatewayPort + 12]
const { server, pool } = createGateway({
  backends: { kind: 'static', backends: servicePorts.map((port) => backendAt('127.0.0.1', port)) },
})
// One process, three servers: SIGINT drains them all before it exits.
await serve([
  ...servicePorts.map((port) => ({
    server: createStreamService(),
    name: '[tcp-stream] tcp-stream-service',
    scheme: 'tcp' as const,
    host: '127.0.0.1',
    port,
  })),
  { server, name: '[tcp-stream] tcp-stream-gateway', host: '127.0.0.1', port: gatewayPort },
])
await pool.refresh()
const url = `http://127.0.0.1:${gatewayPort}`
console.log(
  `[tcp-stream] open ${url}/ (backends live, a form that streams bytes), or curl ${url}/health`,
)
console.log(`[tcp-stream]      curl -X POST '${url}/stream?size=1073741824'`)
