// `pnpm dev`: the live-log server on :3001 over a temporary directory, with a clock appending a
// line every second to /logs/clock.log so that there is something live to watch at once.
// LIVE_LOG_NATS=1: the logs on NATS JetStream instead (one nats-server started here), served by two
// nodes, :3001 (node A, where the clock appends) and :3003 (node B).
import { openAppend } from '@sluice/fstream-client'
import { JetStreamStorage } from '@sluice/fstream-server'
import { scratchDir, serve } from '@sluice/internal/cli'
import { natsMissing, startNatsServer } from './nats.js'
import { createLiveLogServer } from './server.js'

const port = Number(process.env['PORT'] ?? 3001)
const nats = process.env['LIVE_LOG_NATS'] === '1'
if (nats) {
  // Two fstream-server nodes on one JetStream node: each serves every log.
  const missing = natsMissing()
  if (missing) {
    console.error(`[live-log] LIVE_LOG_NATS=1 needs ${missing}`)
    process.exit(2)
  }
  const natsUrl = await startNatsServer()
  const node = (name: string, nodePort: number) => ({
    server: createLiveLogServer({
      storage: new JetStreamStorage({ servers: [natsUrl], stream: 'LIVELOG', name }),
      node: name,
    }),
    name: `[live-log] ${name}`,
    host: '127.0.0.1',
    port: nodePort,
  })
  await serve([node('node A', port), node('node B', port + 2)])
  console.log(`[live-log] logs are stored in NATS JetStream at ${natsUrl} (stream LIVELOG)`)
  console.log(
    `[live-log] the same logs through node B: http://127.0.0.1:${port + 2}/?log=/logs/clock.log`,
  )
} else {
  // Without LIVE_LOG_ROOT, the logs live in a temporary directory removed when the demo stops.
  const root = process.env['LIVE_LOG_ROOT'] ?? (await scratchDir('sluice-live-log-'))
  await serve([
    { server: createLiveLogServer({ root }), name: '[live-log] live-log', host: '127.0.0.1', port },
  ])
  console.log(`[live-log] logs are stored in ${root}`)
}
const url = `http://127.0.0.1:${port}`
console.log(
  `[live-log] open ${url}/?log=/logs/clock.log (a clock, live) or ${url}/ (type lines into /logs/demo.log)`,
)
// Run from the repository; dpkg's log is on every Debian and Ubuntu (syslog no longer is).
console.log(
  `[live-log] append from a terminal: tail -f /var/log/dpkg.log | pnpm --filter @sluice-apps/live-log exec fstream-append ${url}/logs/dpkg.log`,
)

const clock = openAppend(`${url}/logs/clock.log`)
clock.on('error', (error) => console.error(`[live-log] clock: ${error.message}`))
const tick = setInterval(() => {
  if (!clock.write(`${new Date().toISOString()} tick\n`))
    console.warn('[live-log] clock: server is behind')
}, 1000)
tick.unref()
