// Benchmark of @sluice/hash-server (issue: "near the MD5 limit of a core").
//   pnpm --filter @sluice/bench bench:hash-server [-- --runs 5 --size-mib 1024]
// Prints medians of several runs and ratios against `openssl speed md5` and a naive Node server
// measured in the same run. Only loopback is used; every load is bounded in count and time.
import { existsSync, statSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { payloadFile, samplePeakRss, startServerProcess } from '@sluice/test-utils'
import { benchArgs, curl, MiB, median, mibPerSecond, opensslSpeed, table } from './measure.js'

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    runs: { type: 'string', default: '5' },
    'size-mib': { type: 'string', default: '1024' },
    concurrency: { type: 'string', default: '64' },
  },
})
const runs = Number(values.runs)
const size = Number(values['size-mib']) * MiB
const concurrency = Number(values.concurrency)

const BIN = fileURLToPath(new URL('../../packages/hash-server/bin.js', import.meta.url))
const NAIVE = fileURLToPath(new URL('./naive-hash-server.mjs', import.meta.url))
const WORK = fileURLToPath(new URL('../../.bench/hash-server', import.meta.url))

async function payload(name: string, bytes: number) {
  const path = join(WORK, name)
  // Regenerated every run: digests are computed while writing, never trusted from an old file.
  if (existsSync(path) && statSync(path).size !== bytes) await rm(path)
  return payloadFile(path, bytes)
}

/** Seconds for one upload of `path` with curl (streamed with -T, no 100-continue wait). */
async function upload(url: string, path: string, expected: string): Promise<number> {
  const [out, seconds] = await curl(['-X', 'POST', '-H', 'Expect:', '-T', path, `${url}/`])
  if (out.trim() !== expected) throw new Error(`wrong digest ${out.trim()}, expected ${expected}`)
  return seconds
}

async function singleStream(file: { path: string; size: number; md5: string }) {
  const sluice = await startServerProcess(process.execPath, [BIN, '--port', '0'])
  const naive = await startServerProcess(process.execPath, [NAIVE])
  const sluiceTimes: number[] = []
  const naiveTimes: number[] = []
  try {
    for (let run = 0; run < runs; run++) {
      sluiceTimes.push(await upload(sluice.url, file.path, file.md5))
      naiveTimes.push(await upload(naive.url, file.path, file.md5))
    }
  } finally {
    await sluice.stop()
    await naive.stop()
  }
  return { sluice: median(sluiceTimes), naive: median(naiveTimes) }
}

async function concurrentUploads(
  workers: number,
  files: ReadonlyArray<{ path: string; md5: string; size: number }>,
  count: number,
) {
  const server = await startServerProcess(process.execPath, [
    BIN,
    '--port',
    '0',
    '--workers',
    String(workers),
  ])
  const rss = workers === 1 && server.child.pid ? samplePeakRss(server.child.pid, 10) : undefined
  try {
    const started = process.hrtime.bigint()
    await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const file = files[i % files.length]
        if (!file) throw new Error('no payload')
        return upload(server.url, file.path, file.md5)
      }),
    )
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const bytes = Array.from(
      { length: count },
      (_, i) => files[i % files.length]?.size ?? 0,
    ).reduce((a, b) => a + b, 0)
    return { seconds, bytes, peakRss: rss?.stop() ?? 0 }
  } finally {
    await server.stop()
  }
}

await mkdir(WORK, { recursive: true })
console.log(`hash-server benchmark: ${runs} runs, ${size / MiB} MiB body, node ${process.version}`)
const big = await payload('big.bin', size)
const small = await Promise.all([0, 1, 2, 3].map((i) => payload(`small-${i}.bin`, 16 * MiB)))

const openssl16k = await opensslSpeed('md5', 16384)
const single = await singleStream(big)
const sluiceRate = size / single.sluice
const naiveRate = size / single.naive

const concurrent = await concurrentUploads(1, small, concurrency)
const oneWorker: number[] = []
const twoWorkers: number[] = []
const mid = await Promise.all([0, 1, 2, 3].map((i) => payload(`mid-${i}.bin`, 128 * MiB)))
for (let run = 0; run < Math.max(1, Math.min(runs, 3)); run++) {
  const one = await concurrentUploads(1, mid, 4)
  oneWorker.push(one.bytes / one.seconds)
  const two = await concurrentUploads(2, mid, 4)
  twoWorkers.push(two.bytes / two.seconds)
}

console.log(
  `\n${table([
    {
      measure: 'openssl speed md5 (16 KiB blocks, 1 core)',
      value: `${mibPerSecond(openssl16k, 1).toFixed(0)} MiB/s`,
      ratio: '1.00',
    },
    {
      measure: `sluice hash-server, curl -T ${size / MiB} MiB (median)`,
      value: `${mibPerSecond(sluiceRate, 1).toFixed(0)} MiB/s`,
      ratio: (sluiceRate / openssl16k).toFixed(2),
    },
    {
      measure: 'naive Node server (createHash + data)',
      value: `${mibPerSecond(naiveRate, 1).toFixed(0)} MiB/s`,
      ratio: (naiveRate / openssl16k).toFixed(2),
    },
    {
      measure: `${concurrency} concurrent 16 MiB uploads, 1 worker`,
      value: `${mibPerSecond(concurrent.bytes, concurrent.seconds).toFixed(0)} MiB/s, all digests right`,
      ratio: '',
    },
    {
      measure: `  server peak RSS during the ${concurrency} uploads`,
      value: `${(concurrent.peakRss / 1e6).toFixed(1)} MB`,
      ratio: '',
    },
    {
      measure: '4 concurrent 128 MiB uploads, 1 worker (median)',
      value: `${mibPerSecond(median(oneWorker), 1).toFixed(0)} MiB/s`,
      ratio: '1.00',
    },
    {
      measure: '4 concurrent 128 MiB uploads, --workers 2 (median)',
      value: `${mibPerSecond(median(twoWorkers), 1).toFixed(0)} MiB/s`,
      ratio: (median(twoWorkers) / median(oneWorker)).toFixed(2),
    },
  ])}`,
)
console.log(`\nsluice / naive single-stream ratio: ${(sluiceRate / naiveRate).toFixed(2)}`)
