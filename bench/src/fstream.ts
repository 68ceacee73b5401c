// Benchmark of @sluice/fstream-server and -client (issue: live append/follow over WebSocket).
//   pnpm --filter @sluice/bench bench:fstream [-- --size-mib 256 --followers 100]
// 1. one 256 MiB append with 1 follower, MiB/s; 2. the same with 100 followers, every byte of
// every follower compared, server peak RSS; 3. append -> follower latency at 1,000 messages/s.
// Loopback only; every load is bounded in count and time.
import { randomFillSync } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { append, follow } from '@sluice/fstream-client'
import { samplePeakRss, startServerProcess } from '@sluice/test-utils'
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

function* chunks(payload: Buffer, chunkSize: number): Generator<Buffer> {
  for (let offset = 0; offset < payload.length; offset += chunkSize) {
    yield payload.subarray(offset, offset + chunkSize)
  }
}

/** Follows `url` comparing every byte with `payload`; resolves when the resource is complete. */
async function followExact(url: string, payload: Buffer): Promise<void> {
  let position = 0
  for await (const chunk of follow(url, { wait: true }) as AsyncIterable<Buffer>) {
    if (!chunk.equals(payload.subarray(position, position + chunk.length))) {
      throw new Error(`byte mismatch at ${position}`)
    }
    position += chunk.length
  }
  if (position !== payload.length) throw new Error(`follower got ${position} of ${payload.length}`)
}

async function fanOut(payload: Buffer, count: number, zeroMask = false) {
  await rm(ROOT, { recursive: true, force: true })
  await mkdir(ROOT, { recursive: true })
  const server = await startServerProcess(process.execPath, [CLI, '--root', ROOT, '--port', '0'])
  const rss = server.child.pid ? samplePeakRss(server.child.pid, 20) : undefined
  try {
    const url = `${server.url}/bench/${count}`
    const following = Array.from({ length: count }, () => followExact(url, payload))
    await new Promise((resolve) => setTimeout(resolve, 300))
    const started = process.hrtime.bigint()
    await append(url, chunks(payload, 256 * 1024), { zeroMask })
    const appendSeconds = Number(process.hrtime.bigint() - started) / 1e9
    await Promise.all(following)
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
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
  const delays: number[] = []
  try {
    const url = `${server.url}/latency`
    const reading = (async () => {
      let pending = Buffer.alloc(0)
      for await (const chunk of follow(url, { wait: true }) as AsyncIterable<Buffer>) {
        const now = process.hrtime.bigint()
        pending = Buffer.concat([pending, chunk])
        while (pending.length >= 64) {
          delays.push(Number(now - pending.readBigUInt64LE(0)) / 1e6)
          pending = pending.subarray(64)
        }
      }
    })()
    async function* timed() {
      for (let i = 0; i < messages; i++) {
        const record = Buffer.alloc(64)
        record.writeBigUInt64LE(process.hrtime.bigint(), 0)
        yield record
        await new Promise((resolve) => setTimeout(resolve, 1000 / perSecond))
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
    await append(url, timed())
    await reading
  } finally {
    await server.stop()
  }
  delays.sort((a, b) => a - b)
  const at = (q: number) =>
    delays[Math.min(delays.length - 1, Math.floor(q * delays.length))] ?? Number.NaN
  return { count: delays.length, p50: at(0.5), p99: at(0.99) }
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
