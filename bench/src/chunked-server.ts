// Benchmark of @sluice/chunked-server (issue: live origin for low-latency HLS/DASH).
//   pnpm --filter @sluice/bench bench:chunked-server [-- --readers 500 --size-mib 256 --runs 3]
// 1. `readers` live GETs of one ingest of `size-mib` MiB, every byte compared; server peak RSS.
// 2. ingest -> reader latency of small chunks (p50/p99) at 500 chunks/s.
// 3. static throughput of the finished object against nginx serving the same file, same run.
// Loopback only; every load is bounded in count and time.
import { randomFillSync } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { samplePeakRss, startServerProcess } from '@sluice/test-utils'
import { ingest, measureLatency, readExact } from './live-http.js'
import { benchArgs, concurrentDownloads, MiB, median, mibPerSecond, table } from './measure.js'
import { startNginx } from './nginx.js'

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    readers: { type: 'string', default: '500' },
    'size-mib': { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
  },
})
const readers = Number(values.readers)
const size = Number(values['size-mib']) * MiB
const runs = Number(values.runs)
const CLI = fileURLToPath(new URL('../../packages/chunked-server/bin.js', import.meta.url))
const WORK = fileURLToPath(new URL('../../.bench/chunked-server', import.meta.url))

/** The chunked-server CLI on a free port, over an emptied `.bench/chunked-server/<name>`. */
async function startOrigin(name: string, args: readonly string[] = []) {
  const root = join(WORK, name)
  await rm(root, { recursive: true, force: true })
  const server = await startServerProcess(process.execPath, [CLI, '-i', '0', '-p', root, ...args])
  return { server, root }
}

async function liveFanOut(payload: Buffer) {
  const { server } = await startOrigin('live', ['-w', '30000'])
  const rss = server.child.pid ? samplePeakRss(server.child.pid, 20) : undefined
  try {
    const started = process.hrtime.bigint()
    // Every reader asks before the object exists and is held by wait-for-content.
    const reading = Array.from({ length: readers }, () =>
      readExact(`${server.url}/live/seg.ts`, payload),
    )
    await new Promise((resolve) => setTimeout(resolve, 500))
    const status = await ingest(`${server.url}/live/seg.ts`, payload)
    if (status !== 201) throw new Error(`ingest answered ${status}`)
    const bytes = (await Promise.all(reading)).reduce((a, b) => a + b, 0)
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    return { seconds, bytes, peakRss: rss?.stop() ?? 0 }
  } finally {
    rss?.stop()
    await server.stop()
  }
}

/** Ingest → reader latency of 64-byte records on a fresh origin. */
async function latency(listeners: number, chunks: number, perSecond: number) {
  const { server } = await startOrigin('latency', ['-w', '30000'])
  try {
    const urls = Array.from({ length: listeners }, () => `${server.url}/lat.bin`)
    return await measureLatency(`${server.url}/lat.bin`, urls, chunks, perSecond)
  } finally {
    await server.stop()
  }
}

async function staticThroughput(payload: Buffer) {
  const { server, root } = await startOrigin('static')
  const nginx = await startNginx(WORK, root)
  const ours: number[] = []
  const theirs: number[] = []
  try {
    if ((await ingest(`${server.url}/vod/file.ts`, payload)) !== 201)
      throw new Error('ingest failed')
    for (let run = 0; run < runs; run++) {
      ours.push(await concurrentDownloads(`${server.url}/vod/file.ts`, 4, size))
      if (typeof nginx !== 'string')
        theirs.push(await concurrentDownloads(`${nginx.url}/vod/file.ts`, 4, size))
    }
  } finally {
    await server.stop()
    if (typeof nginx !== 'string') await nginx.stop()
  }
  return { ours: median(ours), nginx: typeof nginx === 'string' ? nginx : median(theirs) }
}

await mkdir(WORK, { recursive: true })
console.log(
  `chunked-server benchmark: ${readers} readers, ${size / MiB} MiB ingest, node ${process.version}`,
)
const payload = randomFillSync(Buffer.allocUnsafe(size))
const fan = await liveFanOut(payload)
const lat = await latency(10, 2000, 500)
const stat = await staticThroughput(payload)
console.log(
  `\n${table([
    {
      measure: `${readers} live readers of one ${size / MiB} MiB ingest`,
      value: `all ${readers} byte-exact, ${mibPerSecond(fan.bytes, fan.seconds).toFixed(0)} MiB/s delivered in ${fan.seconds.toFixed(1)} s`,
      ratio: '',
    },
    { measure: '  server peak RSS', value: `${(fan.peakRss / 1e6).toFixed(1)} MB`, ratio: '' },
    {
      measure: `ingest -> reader latency, 64 B chunks at 500/s, 10 readers (${lat.count} samples)`,
      value: `p50 ${lat.p50.toFixed(2)} ms, p99 ${lat.p99.toFixed(2)} ms, max ${lat.max.toFixed(2)} ms`,
      ratio: '',
    },
    {
      measure: 'static GET, 4 concurrent curl (median)',
      value: `${stat.ours.toFixed(0)} MiB/s`,
      ratio: typeof stat.nginx === 'number' ? (stat.ours / stat.nginx).toFixed(2) : '',
    },
    {
      measure: 'nginx, same file, same run (median)',
      value:
        typeof stat.nginx === 'number'
          ? `${stat.nginx.toFixed(0)} MiB/s`
          : `not measured: ${stat.nginx}`,
      ratio: typeof stat.nginx === 'number' ? '1.00' : '',
    },
  ])}`,
)
