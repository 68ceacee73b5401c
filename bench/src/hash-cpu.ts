// CPU per GiB of @sluice/hash-server against the least it can cost (issue 22): for each
// algorithm, the server's CPU seconds (every thread, and its workers with --workers) for one
// `curl -T` upload of a 1 GiB file, against the CPU of a Node server that only drains the body
// plus `openssl speed -evp ALG` single-core time for the same bytes, in interleaved rounds.
//   pnpm --filter @sluice/bench bench:hash-cpu [-- --runs 5 --size-mib 1024 --algorithms md5,sha256]
//     [--limit-rate 250M] (curl's, for every upload: a client slower than the server)
// ratio = (drain CPU + openssl time) / hash-server CPU: 1.00 would cost nothing beyond the two.
// With one process, the request thread's own share is shown beside the total.
import { createHash } from 'node:crypto'
import { createReadStream, existsSync, statSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { payloadFile, type ServerProcess, startServerProcess } from '@sluice/test-utils'
import {
  benchArgs,
  cpuSeconds,
  curl,
  MiB,
  median,
  opensslSpeed,
  table,
  threadCpuSeconds,
} from './measure.js'

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    runs: { type: 'string', default: '5' },
    'size-mib': { type: 'string', default: '1024' },
    algorithms: { type: 'string', default: 'md5,sha256' },
    workers: { type: 'string', default: '1' },
    'limit-rate': { type: 'string' },
  },
})
const runs = Number(values.runs)
const size = Number(values['size-mib']) * MiB
const algorithms = values.algorithms.split(',')
const BIN = fileURLToPath(new URL('../../packages/hash-server/bin.js', import.meta.url))
const DRAIN = fileURLToPath(new URL('./drain-server.mjs', import.meta.url))
const WORK = fileURLToPath(new URL('../../.bench/hash-server', import.meta.url))

const limitRate = values['limit-rate'] === undefined ? [] : ['--limit-rate', values['limit-rate']]

/**
 * The server's CPU seconds for one upload of `path` (all of it, and its main thread's, the
 * request thread with one process) and its MiB/s, checking what it answered.
 */
async function uploadCpu(
  server: ServerProcess,
  path: string,
  expected: string,
): Promise<{ cpu: number; requestThread: number; rate: number }> {
  const pid = server.child.pid ?? 0
  const before = cpuSeconds(pid)
  const threadBefore = threadCpuSeconds(pid)
  const [out, seconds] = await curl([
    ...['-X', 'POST', '-H', 'Expect:', ...limitRate, '-T', path, `${server.url}/`],
  ])
  // The drain server answers the byte count; hash-server the digest.
  if (out.trim() !== expected) throw new Error(`answered ${out.trim()}, expected ${expected}`)
  return {
    cpu: cpuSeconds(pid) - before,
    requestThread: threadCpuSeconds(pid) - threadBefore,
    rate: size / MiB / seconds,
  }
}

const range = (values: readonly number[], digits: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return `${median(values).toFixed(digits)} (${sorted[0]?.toFixed(digits)}-${sorted.at(-1)?.toFixed(digits)})`
}

async function digestOf(path: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm)
  await pipeline(createReadStream(path), hash)
  return hash.digest('hex')
}

await mkdir(WORK, { recursive: true })
const path = join(WORK, 'big.bin')
if (existsSync(path) && statSync(path).size !== size) await rm(path)
if (!existsSync(path)) await payloadFile(path, size)
console.log(
  `hash-server CPU per GiB: ${size / MiB} MiB via curl -T${limitRate.map((arg) => ` ${arg}`).join('')}, ${runs} interleaved rounds, --workers ${values.workers}, node ${process.version}`,
)
const rows = []
for (const algorithm of algorithms) {
  const expected = await digestOf(path, algorithm)
  const opensslSeconds = size / (await opensslSpeed(['-evp', algorithm], MiB))
  const start = (threads: readonly string[]) =>
    startServerProcess(process.execPath, [
      ...[BIN, '--port', '0', '--algorithm', algorithm, '--workers', values.workers],
      ...threads,
    ])
  const servers = {
    'hash threads (default)': await start([]),
    '--hash-threads 0': await start(['--hash-threads', '0']),
  }
  const drain = await startServerProcess(process.execPath, [DRAIN])
  const results = new Map<string, { cpu: number[]; requestThread: number[]; rate: number[] }>()
  const drained: number[] = []
  try {
    for (let run = 0; run < runs; run++) {
      for (const [name, server] of Object.entries(servers)) {
        const { cpu, requestThread, rate } = await uploadCpu(server, path, expected)
        const result = results.get(name) ?? { cpu: [], requestThread: [], rate: [] }
        result.cpu.push(cpu)
        result.requestThread.push(requestThread)
        result.rate.push(rate)
        results.set(name, result)
      }
      drained.push((await uploadCpu(drain, path, String(size))).cpu)
    }
  } finally {
    for (const server of Object.values(servers)) await server.stop()
    await drain.stop()
  }
  const least = median(drained) + opensslSeconds
  for (const [name, result] of results) {
    rows.push({
      algorithm,
      server: name,
      'CPU s (min-max)': range(result.cpu, 2),
      ...(values.workers === '1' && {
        'request thread s': median(result.requestThread).toFixed(2),
      }),
      'MiB/s (min-max)': range(result.rate, 0),
      'drain CPU s': median(drained).toFixed(2),
      'openssl s': opensslSeconds.toFixed(2),
      ratio: (least / median(result.cpu)).toFixed(2),
    })
  }
}
console.log(`\n${table(rows)}`)
