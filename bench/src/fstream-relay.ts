// fstream's append -> server -> follow path against a raw two-hop WebSocket relay (no storage, no
// acknowledgements: ws-relay.mjs) measured in the same run, in interleaved rounds (issue 22):
//   CLIs:       fstream-append URL < FILE  ->  fstream-server --root (files)  ->  fstream-follow URL
//   in-process: the client library appending and following, against the same server
//   relay:      ws-relay append < FILE  ->  ws-relay server  ->  ws-relay follow
//   pnpm --filter @sluice/bench bench:fstream-relay [-- --size-mib 256 --runs 5]
// Each figure: MiB/s from the start of the append to the follower's last byte.
import { spawn } from 'node:child_process'
import { createHash, randomFillSync } from 'node:crypto'
import { once } from 'node:events'
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startServerProcess } from '@sluice/test-utils'
import { appendFollowed } from './fstream-load.js'
import { benchArgs, MiB, median, mibPerSecond, table } from './measure.js'

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    'size-mib': { type: 'string', default: '256' },
    runs: { type: 'string', default: '5' },
  },
})
const size = Number(values['size-mib']) * MiB
const runs = Number(values.runs)
const SERVER = fileURLToPath(new URL('../../packages/fstream-server/bin.js', import.meta.url))
const APPEND = fileURLToPath(
  new URL('../../packages/fstream-client/bin/fstream-append.js', import.meta.url),
)
const FOLLOW = fileURLToPath(new URL('../../packages/fstream-client/bin.js', import.meta.url))
const RELAY = fileURLToPath(new URL('./ws-relay.mjs', import.meta.url))
const WORK = fileURLToPath(new URL('../../.bench/fstream-relay', import.meta.url))

/** Runs `command`, stdin from `input` (or nothing); resolves with the bytes it wrote to stdout. */
async function run(command: readonly string[], input?: string): Promise<number> {
  const handle = input === undefined ? undefined : await open(input)
  const child = spawn(process.execPath, command, {
    stdio: [handle?.fd ?? 'ignore', 'pipe', 'inherit'],
  })
  // The child has its own copy of the descriptor.
  await handle?.close()
  let bytes = 0
  child.stdout?.on('data', (chunk: Buffer) => {
    bytes += chunk.length
  })
  // 'close': the exit code, and stdout read to its end.
  const [code] = (await once(child, 'close')) as [number | null]
  if (code !== 0) throw new Error(`${command.join(' ')} exited with ${code}`)
  return bytes
}

/** Seconds from starting the appender to the follower's exit, the follower started first. */
async function twoHops(follow: readonly string[], append: readonly string[], file: string) {
  const following = run(follow)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const started = process.hrtime.bigint()
  await run(append, file)
  const bytes = await following
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (bytes !== size) throw new Error(`the follower got ${bytes} of ${size} bytes`)
  return seconds
}

await rm(WORK, { recursive: true, force: true })
await mkdir(join(WORK, 'root'), { recursive: true })
const payload = randomFillSync(Buffer.allocUnsafe(size))
const file = join(WORK, 'payload.bin')
await writeFile(file, payload)
const digest = createHash('sha256').update(payload).digest('hex')
const server = await startServerProcess(process.execPath, [
  ...[SERVER, '--root', join(WORK, 'root'), '--port', '0'],
])
const relay = await startServerProcess(process.execPath, [RELAY, 'server'])
const results = { cli: [] as number[], library: [] as number[], relay: [] as number[] }
console.log(
  `fstream vs a raw WebSocket relay: ${size / MiB} MiB, ${runs} interleaved rounds, node ${process.version}`,
)
try {
  for (let round = 0; round < runs; round++) {
    const path = `/bench/cli-${round}`
    results.cli.push(
      await twoHops(
        [FOLLOW, '--wait', `${server.url}${path}`],
        [APPEND, `${server.url}${path}`],
        file,
      ),
    )
    const stored = await readFile(join(WORK, 'root', path))
    if (createHash('sha256').update(stored).digest('hex') !== digest) {
      throw new Error(`${path} is not what was appended`)
    }
    const url = `${server.url}/bench/library-${round}`
    results.library.push((await appendFollowed(url, [url], payload)).seconds)
    results.relay.push(
      await twoHops(
        [RELAY, 'follow', `${relay.url}/follow`],
        [RELAY, 'append', `${relay.url}/append`],
        file,
      ),
    )
  }
} finally {
  await server.stop()
  await relay.stop()
}
const rate = (seconds: readonly number[]) => mibPerSecond(size, median(seconds))
const spread = (seconds: readonly number[]) => {
  const rates = seconds.map((s) => mibPerSecond(size, s)).sort((a, b) => a - b)
  return `${rates[0]?.toFixed(0)}-${rates.at(-1)?.toFixed(0)}`
}
console.log(
  `\n${table([
    {
      path: 'fstream-append < file -> fstream-server (files) -> fstream-follow',
      'MiB/s median (min-max)': `${rate(results.cli).toFixed(0)} (${spread(results.cli)})`,
      'vs relay': (rate(results.cli) / rate(results.relay)).toFixed(2),
    },
    {
      path: 'client library append -> fstream-server (files) -> client library follow',
      'MiB/s median (min-max)': `${rate(results.library).toFixed(0)} (${spread(results.library)})`,
      'vs relay': (rate(results.library) / rate(results.relay)).toFixed(2),
    },
    {
      path: 'raw ws relay, 256 KiB binary messages, no storage, no acks',
      'MiB/s median (min-max)': `${rate(results.relay).toFixed(0)} (${spread(results.relay)})`,
      'vs relay': '1.00',
    },
  ])}`,
)
