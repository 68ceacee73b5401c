// bench:edges — 1,000 live readers of a paced ingest, served by the chunked-server origin alone
// and through two Varnish edges (deploy/varnish/chunked-edge.vcl), in one run: readers whole,
// origin GETs, origin peak RSS and CPU seconds, and the ingest → reader latency an edge adds.
//   pnpm --filter @sluice/bench bench:edges [-- --readers 1000 --size-mib 4 --rate-mib 2]
import { randomFillSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import {
  missingVarnish,
  samplePeakRss,
  scrapeMetrics,
  startServerProcess,
  startVarnish,
} from '@sluice/test-utils'
import { ingest, measureLatency, readExact } from './live-http.js'
import { benchArgs, MiB, table } from './measure.js'

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    readers: { type: 'string', default: '1000' },
    'size-mib': { type: 'string', default: '4' },
    'rate-mib': { type: 'string', default: '2' },
  },
})
const readers = Number(values.readers)
const size = Number(values['size-mib']) * MiB
const rate = Number(values['rate-mib']) * MiB
const CLI = fileURLToPath(new URL('../../packages/chunked-server/bin.js', import.meta.url))
const VCL = fileURLToPath(new URL('../../deploy/varnish/chunked-edge.vcl', import.meta.url))
const WORK = fileURLToPath(new URL('../../.bench/chunked-edge', import.meta.url))

/** CPU seconds (user + system) a process has used, from `/proc/PID/stat`. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

const originGets = async (url: string) =>
  [...(await scrapeMetrics(`${url}/metrics`))]
    .filter(([series]) => series.startsWith('chunked_server_gets_total{'))
    .reduce((sum, [, value]) => sum + value, 0)

async function scenario(name: string, viaEdges: boolean, payload: Buffer) {
  const root = join(WORK, name)
  await rm(root, { recursive: true, force: true })
  const origin = await startServerProcess(process.execPath, [
    CLI,
    '-i',
    '0',
    '-p',
    root,
    '-w',
    '30000',
  ])
  const pid = origin.child.pid ?? 0
  const vcl = (await readFile(VCL, 'utf8')).replace(
    '.port = "9094";',
    `.port = "${new URL(origin.url).port}";`,
  )
  const edges = viaEdges ? [await startVarnish(vcl, '1g'), await startVarnish(vcl, '1g')] : []
  try {
    if (viaEdges) {
      for (const edge of edges) {
        while ([...(await edge.backendHealth()).values()][0] !== 'healthy') {
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      }
    }
    const urls = viaEdges ? edges.map((edge) => edge.url) : [origin.url]
    const getsBefore = await originGets(origin.url)
    const cpuBefore = cpuSeconds(pid)
    const rss = samplePeakRss(pid, 20)
    const started = performance.now()
    // Every reader asks before the object exists: held at the origin, or on an edge's waiting list.
    const reading = Array.from({ length: readers }, (_, i) =>
      readExact(`${urls[i % urls.length]}/live/seg.ts`, payload).then(
        () => true,
        () => false,
      ),
    )
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const status = await ingest(`${origin.url}/live/seg.ts`, payload, {
      bytesPerSecond: rate,
      headers: { 'cache-control': 'max-age=60' },
    })
    if (status !== 201) throw new Error(`ingest answered ${status}`)
    const whole = (await Promise.all(reading)).filter(Boolean).length
    const seconds = (performance.now() - started) / 1000
    const peakRss = rss.stop()
    const cpu = cpuSeconds(pid) - cpuBefore
    const gets = (await originGets(origin.url)) - getsBefore
    const putUrl = `${origin.url}/live/lat.bin`
    const lat = await measureLatency(
      putUrl,
      Array.from({ length: 10 }, (_, i) => `${urls[i % urls.length]}/live/lat.bin`),
      5000,
      500,
    )
    return { name, whole, gets, peakRss, cpu, seconds, lat }
  } finally {
    for (const edge of edges) await edge.stop()
    await origin.stop()
  }
}

const reason = missingVarnish()
if (reason !== undefined) {
  console.error(`bench:edges needs varnishd: ${reason}`)
  process.exit(1)
}
const payload = randomFillSync(Buffer.alloc(size))
const direct = await scenario('direct', false, payload)
const edged = await scenario('edges', true, payload)
console.log(
  `${readers} live readers of one ${size / MiB} MiB object ingested at ${rate / MiB} MiB/s; latency: 5,000 records of 64 bytes at 500/s to 10 readers`,
)
console.log(
  table(
    [direct, edged].map((r) => ({
      served: r.name === 'direct' ? 'origin alone' : 'through 2 edges',
      'readers whole': `${r.whole}/${readers}`,
      'origin GETs': r.gets,
      'origin peak RSS (MB)': (r.peakRss / 1e6).toFixed(1),
      'origin CPU (s)': r.cpu.toFixed(2),
      'wall (s)': r.seconds.toFixed(1),
      'latency p50 / p99 (ms)': `${r.lat.p50.toFixed(2)} / ${r.lat.p99.toFixed(2)}`,
    })),
  ),
)
console.log(
  `added by the edge: p50 ${(edged.lat.p50 - direct.lat.p50).toFixed(2)} ms, p99 ${(edged.lat.p99 - direct.lat.p99).toFixed(2)} ms; origin CPU ratio ${(edged.cpu / direct.cpu).toFixed(2)}`,
)
