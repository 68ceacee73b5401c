// `pnpm dev`: the live-log server on :3001 over a temporary directory, with a clock appending a
// line every second to /logs/clock.log so that there is something live to watch at once.
import { openAppend } from '@sluice/fstream-client'
import { scratchDir, serve } from '@sluice/internal/cli'
import { createLiveLogServer } from './server.js'

const port = Number(process.env['PORT'] ?? 3001)
// Without LIVE_LOG_ROOT, the logs live in a temporary directory removed when the demo stops.
const root = process.env['LIVE_LOG_ROOT'] ?? (await scratchDir('sluice-live-log-'))
await serve([
  { server: createLiveLogServer({ root }), name: '[live-log] live-log', host: '127.0.0.1', port },
])
const url = `http://127.0.0.1:${port}`
console.log(`[live-log] logs are stored in ${root}`)
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
