// Benchmark of fstream on NATS JetStream against file storage, in one run (issue: fstream across
// machines).
//   pnpm --filter @sluice/bench bench:fstream-nodes [-- --size-mib 128 --rounds 3 --followers 100]
// For file storage on one node, JetStream R1 (one NATS node) and JetStream R3 (three NATS nodes,
// the follower on the other fstream node): append -> follow throughput of one append with one
// follower, and append -> follower latency p50/p99 at 1,000 messages/s; then 100 followers spread
// over two fstream nodes on R3, every byte compared. References in the same run: raw JetStream
// publishing of the same bytes in 256 KiB messages, serial (each waits for its ack, as an
// fstream append with its expectation must) and pipelined (32 in flight). Medians of interleaved
// rounds. Loopback only; every load is bounded in count and time.
import { randomFillSync } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { type Nats, type ServerProcess, startNats, startServerProcess } from '@sluice/test-utils'
import { appendFollowed, appendLatency } from './fstream-load.js'
import { benchArgs, MiB, median, mibPerSecond, table } from './measure.js'

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    'size-mib': { type: 'string', default: '128' },
    rounds: { type: 'string', default: '3' },
    followers: { type: 'string', default: '100' },
  },
})
const size = Number(values['size-mib']) * MiB
const rounds = Number(values.rounds)
const followers = Number(values.followers)
const CLI = fileURLToPath(new URL('../../packages/fstream-server/bin.js', import.meta.url))
const ROOT = fileURLToPath(new URL('../../.bench/fstream-nodes', import.meta.url))

type Setup = 'files' | 'JetStream R1' | 'JetStream R3'

/** The fstream nodes of a setup: the appender's and the follower's. */
async function nodes(setup: Setup, one: Nats, three: Nats, stream: string) {
  if (setup === 'files') {
    await rm(ROOT, { recursive: true, force: true })
    await mkdir(ROOT, { recursive: true })
    const server = await startServerProcess(process.execPath, [CLI, '--root', ROOT, '--port', '0'])
    return [server, server] as const
  }
  const nats = setup === 'JetStream R1' ? one : three
  const replicas = setup === 'JetStream R1' ? '1' : '3'
  const start = (first: number) =>
    startServerProcess(process.execPath, [
      CLI,
      ...['--port', '0', '--nats-stream', stream, '--nats-replicas', replicas],
      ...['--nats', [...nats.urls.slice(first), ...nats.urls.slice(0, first)].join(',')],
    ])
  const a = await start(0)
  const b = setup === 'JetStream R1' ? a : await start(1)
  return [a, b] as const
}

async function stop(servers: readonly ServerProcess[]) {
  for (const server of new Set(servers)) await server.stop()
}

/** Raw JetStream publishing of `payload` in 256 KiB messages: serial, or 32 in flight. */
async function rawPublish(nats: Nats, replicas: number, payload: Buffer, pipelined: boolean) {
  const connection = await connect({ servers: [...nats.urls] })
  const stream = `RAW${pipelined ? 'P' : 'S'}${replicas}${Date.now()}`
  try {
    const manager = await jetstreamManager(connection)
    await manager.streams.add({ name: stream, subjects: [`${stream}.>`], num_replicas: replicas })
    const js = jetstream(connection)
    const started = process.hrtime.bigint()
    let inFlight: Promise<unknown>[] = []
    let last = 0
    for (let offset = 0; offset < payload.length; offset += 256 * 1024) {
      const data = payload.subarray(offset, offset + 256 * 1024)
      if (pipelined) {
        inFlight.push(js.publish(`${stream}.x`, data))
        if (inFlight.length >= 32) {
          await Promise.all(inFlight)
          inFlight = []
        }
      } else {
        last = (await js.publish(`${stream}.x`, data, { expect: { lastSubjectSequence: last } }))
          .seq
      }
    }
    await Promise.all(inFlight)
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    await manager.streams.delete(stream)
    return mibPerSecond(payload.length, seconds)
  } finally {
    await connection.close()
  }
}

console.log(
  `fstream on nodes: ${size / MiB} MiB appends, ${rounds} rounds, ${followers} followers, node ${process.version}`,
)
const payload = randomFillSync(Buffer.allocUnsafe(size))
const [one, three] = await Promise.all([startNats(1), startNats(3)])
const setups: Setup[] = ['files', 'JetStream R1', 'JetStream R3']
const results = new Map<Setup, { mibs: number[]; p50: number[]; p99: number[] }>()
const raw = {
  serial1: [] as number[],
  pipelined1: [] as number[],
  serial3: [] as number[],
  pipelined3: [] as number[],
}
try {
  for (let round = 0; round < rounds; round++) {
    for (const setup of setups) {
      const [a, b] = await nodes(setup, one, three, `BENCH${round}`)
      try {
        const { seconds } = await appendFollowed(
          `${a.url}/t${round}`,
          [`${b.url}/t${round}`],
          payload,
        )
        const lat = await appendLatency(`${a.url}/l${round}`, `${b.url}/l${round}`, 3000, 1000)
        const entry = results.get(setup) ?? { mibs: [], p50: [], p99: [] }
        entry.mibs.push(mibPerSecond(size, seconds))
        entry.p50.push(lat.p50)
        entry.p99.push(lat.p99)
        results.set(setup, entry)
        console.log(
          `round ${round + 1} ${setup}: ${mibPerSecond(size, seconds).toFixed(0)} MiB/s, latency p50 ${lat.p50.toFixed(2)} ms p99 ${lat.p99.toFixed(2)} ms`,
        )
      } finally {
        await stop([a, b])
      }
    }
    raw.serial1.push(await rawPublish(one, 1, payload, false))
    raw.pipelined1.push(await rawPublish(one, 1, payload, true))
    raw.serial3.push(await rawPublish(three, 3, payload, false))
    raw.pipelined3.push(await rawPublish(three, 3, payload, true))
  }
  // 100 followers spread over two fstream nodes on R3.
  const [a, b] = await nodes('JetStream R3', one, three, 'BENCHFAN')
  let fan: { seconds: number } | undefined
  try {
    const urls = Array.from({ length: followers }, (_, i) => `${(i % 2 === 0 ? a : b).url}/fan`)
    fan = await appendFollowed(`${a.url}/fan`, urls, payload.subarray(0, 32 * MiB))
  } finally {
    await stop([a, b])
  }
  const spread = (xs: readonly number[]) =>
    `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`
  const files = median(results.get('files')?.mibs ?? [])
  const rows = setups.map((setup) => {
    const entry = results.get(setup) ?? { mibs: [], p50: [], p99: [] }
    return {
      storage: setup,
      'append -> follower MiB/s': spread(entry.mibs),
      'vs files': (median(entry.mibs) / files).toFixed(2),
      'latency p50 ms': median(entry.p50).toFixed(2),
      'latency p99 ms': median(entry.p99).toFixed(2),
    }
  })
  console.log(`\n${table(rows)}`)
  console.log(
    `\n${table([
      {
        reference: 'raw JetStream R1, serial publishes (each expects the last)',
        'MiB/s': spread(raw.serial1),
      },
      { reference: 'raw JetStream R1, pipelined (32 in flight)', 'MiB/s': spread(raw.pipelined1) },
      { reference: 'raw JetStream R3, serial', 'MiB/s': spread(raw.serial3) },
      { reference: 'raw JetStream R3, pipelined', 'MiB/s': spread(raw.pipelined3) },
      {
        reference: `${followers} followers over 2 nodes on R3, 32 MiB, all byte-exact`,
        'MiB/s': `${mibPerSecond(32 * MiB * followers, fan?.seconds ?? Number.NaN).toFixed(0)} delivered in ${fan?.seconds.toFixed(1)} s`,
      },
    ])}`,
  )
} finally {
  await Promise.all([one.stop(), three.stop()])
}
