// Benchmark of @sluice/multipart-client's CLI against curl -F (issue: flat memory, near curl speed).
//   pnpm --filter @sluice/bench bench:multipart-client [-- --runs 3 --size-mib 4096]
// Peak RSS of `multipart-upload` for a 4 GiB file and a 4 MiB file, and wall time against
// `curl -F` to the same receiver in the same run. Loopback only; bounded runs.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { payloadFile, runCli, startServerProcess } from '@sluice/test-utils'
import { benchArgs, MiB, median, mibPerSecond, table } from './measure.js'

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    runs: { type: 'string', default: '3' },
    'size-mib': { type: 'string', default: '4096' },
  },
})
const runs = Number(values.runs)
const size = Number(values['size-mib']) * MiB

const CLI = fileURLToPath(new URL('../../packages/multipart-client/bin.js', import.meta.url))
const DRAIN = fileURLToPath(new URL('./drain-server.mjs', import.meta.url))
const WORK = fileURLToPath(new URL('../../.bench/multipart-client', import.meta.url))

interface Measured {
  seconds: number
  peakRss: number
  received: number
}

async function timed(command: string, args: string[], measureRss: boolean): Promise<Measured> {
  const started = process.hrtime.bigint()
  const result = await runCli(command, args, { measureRss, timeoutMs: 600_000 })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (result.code !== 0) throw new Error(`${command} failed (${result.code}): ${result.stderr}`)
  return { seconds, peakRss: result.peakRss, received: Number(result.stdout.toString().trim()) }
}

function curlArgs(url: string, path: string): string[] {
  return ['-sS', '--fail', '-H', 'Expect:', '-F', `file=@${path}`, url]
}

await mkdir(WORK, { recursive: true })
console.log(
  `multipart-client benchmark: ${runs} runs, ${size / MiB} MiB file, node ${process.version}`,
)
const big = await payloadFile(join(WORK, 'big.bin'), size)
const small = await payloadFile(join(WORK, 'small.bin'), 4 * MiB)
const receiver = await startServerProcess(process.execPath, [DRAIN])
const ours: Measured[] = []
const curls: Measured[] = []
const smalls: Measured[] = []
try {
  for (let run = 0; run < runs; run++) {
    smalls.push(
      await timed(
        process.execPath,
        [CLI, '--silent', receiver.url, '-F', `file=@${small.path}`],
        true,
      ),
    )
    ours.push(
      await timed(
        process.execPath,
        [CLI, '--silent', receiver.url, '-F', `file=@${big.path}`],
        true,
      ),
    )
    curls.push(await timed('curl', curlArgs(receiver.url, big.path), true))
  }
} finally {
  await receiver.stop()
}
for (const m of [...ours, ...curls]) {
  if (m.received <= big.size)
    throw new Error(`receiver got ${m.received} bytes, fewer than the file`)
}
const ourTime = median(ours.map((m) => m.seconds))
const curlTime = median(curls.map((m) => m.seconds))
const bigRss = Math.max(...ours.map((m) => m.peakRss))
const smallRss = Math.max(...smalls.map((m) => m.peakRss))
console.log(
  `\n${table([
    {
      measure: `curl -F, ${size / MiB} MiB (median)`,
      value: `${curlTime.toFixed(2)} s, ${mibPerSecond(size, curlTime).toFixed(0)} MiB/s`,
      ratio: '1.00',
    },
    {
      measure: `multipart-upload, ${size / MiB} MiB (median)`,
      value: `${ourTime.toFixed(2)} s, ${mibPerSecond(size, ourTime).toFixed(0)} MiB/s`,
      ratio: (ourTime / curlTime).toFixed(2),
    },
    {
      measure: 'multipart-upload peak RSS, 4 MiB file (max of runs)',
      value: `${(smallRss / 1e6).toFixed(1)} MB`,
      ratio: '',
    },
    {
      measure: `multipart-upload peak RSS, ${size / MiB} MiB file (max of runs)`,
      value: `${(bigRss / 1e6).toFixed(1)} MB`,
      ratio: `+${((bigRss - smallRss) / 1e6).toFixed(1)} MB`,
    },
    {
      measure: 'curl -F peak RSS (max of runs)',
      value: `${(Math.max(...curls.map((m) => m.peakRss)) / 1e6).toFixed(1)} MB`,
      ratio: '',
    },
  ])}`,
)
