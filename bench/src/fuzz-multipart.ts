// Long multipart fuzz run of @sluice/hash-server (the test suite runs the same with 10,000 bodies).
//   pnpm --filter @sluice/bench fuzz:multipart [-- --count 100000 --seed 20261123 --concurrency 16]
// Starts the CLI with a 64 MB heap (a leak would exhaust it), sends seeded bodies, valid and
// mutated, and checks that every one gets a 200 or a 4xx within 2 s, never a 5xx, and that what
// is accepted is read as busboy reads it; prints the answers by status, the rate, and the
// server's descriptors and memory before and after. Exits 1 on any failure.
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { fuzzMultipartServer, processResources, startServerProcess } from '@sluice/test-utils'
import { benchArgs, MiB, table } from './measure.js'

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    count: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '20261123' },
    concurrency: { type: 'string', default: '16' },
  },
})
const count = Number(values.count)
const seed = Number(values.seed)

const BIN = fileURLToPath(new URL('../../packages/hash-server/bin.js', import.meta.url))
const server = await startServerProcess(process.execPath, [
  '--max-old-space-size=64',
  BIN,
  '--port',
  '0',
])
const pid = server.child.pid ?? 0
try {
  const before = processResources(pid)
  const run = await fuzzMultipartServer(server.url, {
    seed,
    count,
    concurrency: Number(values.concurrency),
  })
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  const after = processResources(pid)
  console.log(`multipart fuzz: ${count} bodies, seed ${seed}, ${run.seconds.toFixed(1)} s`)
  console.log(`${(count / run.seconds).toFixed(0)} bodies/s`)
  console.log(
    table(
      [...run.statuses].sort(([a], [b]) => a - b).map(([status, n]) => ({ status, answers: n })),
    ),
  )
  console.log(
    table([
      { when: 'before', fds: before.fds, 'rss MB': (before.rss / MiB).toFixed(1) },
      { when: 'after', fds: after.fds, 'rss MB': (after.rss / MiB).toFixed(1) },
    ]),
  )
  for (const failure of run.failures.slice(0, 20)) console.log(`FAIL ${failure}`)
  console.log(run.failures.length === 0 ? 'no failure' : `${run.failures.length} failures`)
  process.exitCode = run.failures.length === 0 ? 0 : 1
} finally {
  await server.stop()
}
