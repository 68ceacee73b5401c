// Benchmark of @sluice/fstream-server and -client (issue: live append/follow over WebSocket).
//   pnpm --filter @sluice/bench bench:fstream [-- --size-mib 256 --followers 100]
// 1. one 256 MiB append with 1 follower, MiB/s; 2. the same with 100 followers, every byte of
// every follower compared, server peak RSS; 3. append -> follower latency at 1,000 messages/s.
// Loopback only; every load is bounded in count and time.
import { randomFillSync } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { samplePeakRss, startServerProcess } from '@sluice/test-utils'
import { appendFollowed, appendLatency } from './fstream-load.js'
import { benchArgs, MiB, mibPerSecond, table } from './measure.js'

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    'size-mib': { type: 'string', default: '256' },
    followers: { type: 'string', default: '100' },
  },
})
const size = Number(values['size-mib']) * MiB
const followers = Number(values.followers)
const CLI = fileURLToPath(new URL('../../packages/fstream-server/bin.js', import.meta.url))
const ROOT = fileURLToPath(new URL('../../.bench/fstream', import.meta.url))

async function fanOut(payload: Buffer, count: number, zeroMask = false) {
  await rm(ROOT, { recursive: true, force: true })
  await mkdir(ROOT, { recursive: true })
  const server = await startServerProcess(process.execPath, [CLI, '--root', ROOT, '--port', '0'])
  const rss = server.child.pid ? samplePeakRss(server.child.pid, 20) : undefined
  try {
    const url = `${server.url}/bench/${count}`
    const { appendSeconds, seconds } = await appendFollowed(
      url,
      Array.from({ length: count }, () => url),
      payload,
      { zeroMask },
    )
    return { appendSeconds, seconds, peakRss: rss?.stop() ?? 0 }
  } finally {
    rss?.stop()
    await server.stop()
  }
}

async function latency(messages: number, perSecond: number) {
  await rm(ROOT, { recursive: true, force: true })
  await mkdir(ROOT, { recursive: true })
  const server = await startServerProcess(process.execPath, [CLI, '--root', ROOT, '--port', '0'])
  try {
    const url = `${server.url}/latency`
    return await appendLatency(url, url, messages, perSecond)
  } finally {
    await server.stop()
  }
}

console.log(
  `fstream benchmark: ${size / MiB} MiB append, ${followers} followers, node ${process.version}`,
)
const payload = randomFillSync(Buffer.allocUnsafe(size))
const one = await fanOut(payload, 1)
const oneZero = await fanOut(payload, 1, true)
const many = await fanOut(payload, followers)
const lat = await latency(3000, 1000)
console.log(
  `\n${table([
    {
      measure: `${size / MiB} MiB append, 1 follower`,
      value: `append ${mibPerSecond(size, one.appendSeconds).toFixed(0)} MiB/s, follower done at ${mibPerSecond(size, one.seconds).toFixed(0)} MiB/s`,
    },
    {
      measure: `${size / MiB} MiB append, 1 follower, zeroMask`,
      value: `append ${mibPerSecond(size, oneZero.appendSeconds).toFixed(0)} MiB/s, follower done at ${mibPerSecond(size, oneZero.seconds).toFixed(0)} MiB/s`,
    },
    {
      measure: `${size / MiB} MiB append, ${followers} followers`,
      value: `all ${followers} byte-exact; append ${mibPerSecond(size, many.appendSeconds).toFixed(0)} MiB/s, all done in ${many.seconds.toFixed(1)} s (${mibPerSecond(size * followers, many.seconds).toFixed(0)} MiB/s delivered)`,
    },
    { measure: '  server peak RSS', value: `${(many.peakRss / 1e6).toFixed(1)} MB` },
    {
      measure: `append -> follower latency, 64 B at 1,000/s (${lat.count} samples)`,
      value: `p50 ${lat.p50.toFixed(2)} ms, p99 ${lat.p99.toFixed(2)} ms`,
    },
  ])}`,
)
