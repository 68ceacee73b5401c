// Resumable uploads of @sluice/hash-server (tus 1.0, issue 23): a file sent through tus in one
// PATCH against one POST of the same file to the same server (both hashed and stored in its
// directory store), in interleaved rounds; then tus-js-client through a relay that cuts the
// connection at half the file, counting the bytes that crossed it.
//   pnpm --filter @sluice/bench bench:tus [-- --runs 3 --size-mib 1024]
import { createReadStream, existsSync, statSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { payloadFile, startCuttingProxy, startServerProcess } from '@sluice/test-utils'
import * as tus from 'tus-js-client'
import { benchArgs, curl, MiB, median, table } from './measure.js'

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    runs: { type: 'string', default: '3' },
    'size-mib': { type: 'string', default: '1024' },
  },
})
const runs = Number(values.runs)
const size = Number(values['size-mib']) * MiB
const BIN = fileURLToPath(new URL('../../packages/hash-server/bin.js', import.meta.url))
const WORK = fileURLToPath(new URL('../../.bench/tus', import.meta.url))

await mkdir(WORK, { recursive: true })
const path = join(WORK, 'big.bin')
if (existsSync(path) && statSync(path).size !== size) await rm(path)
const file = existsSync(path) ? undefined : await payloadFile(path, size)
const store = join(WORK, 'store')
await rm(store, { recursive: true, force: true })
const server = await startServerProcess(process.execPath, [
  ...[BIN, '--port', '0', '--store', store, '--tus-path', '/files/'],
])
const TUS = ['-H', 'Tus-Resumable: 1.0.0']

/** One POST of the file; resolves with its seconds and the digest answered. */
async function post(): Promise<[number, string]> {
  const [out, seconds] = await curl(['-X', 'POST', '-H', 'Expect:', '-T', path, `${server.url}/`])
  return [seconds, out.trim()]
}

/** Creates a tus upload and sends the file in one PATCH; seconds of both, and the digest. */
async function tusOnePatch(): Promise<[number, string]> {
  const started = process.hrtime.bigint()
  const created = await fetch(`${server.url}/files/`, {
    method: 'POST',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size) },
  })
  const location = created.headers.get('location')
  if (created.status !== 201 || !location) throw new Error(`creation answered ${created.status}`)
  const [headers] = await curl([
    ...['-X', 'PATCH', '-D', '-', '-o', '/dev/null', '-H', 'Expect:', ...TUS],
    ...['-H', 'Upload-Offset: 0', '-H', 'Content-Type: application/offset+octet-stream'],
    ...['-T', path, `${server.url}${location}`],
  ])
  const repr = /^repr-digest: md5=:([^:]+):/im.exec(headers)?.[1]
  if (repr === undefined) throw new Error(`no Repr-Digest in:\n${headers}`)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return [seconds, Buffer.from(repr, 'base64').toString('hex')]
}

const times = { post: [] as number[], tus: [] as number[] }
try {
  console.log(
    `hash-server: ${size / MiB} MiB by tus (one PATCH, curl) vs one POST (curl -T), ${runs} interleaved rounds, node ${process.version}`,
  )
  for (let run = 0; run < runs; run++) {
    const [postSeconds, postDigest] = await post()
    const [tusSeconds, tusDigest] = await tusOnePatch()
    if (postDigest !== tusDigest || (file && file.md5 !== tusDigest)) {
      throw new Error(`digests differ: POST ${postDigest}, tus ${tusDigest}`)
    }
    times.post.push(postSeconds)
    times.tus.push(tusSeconds)
  }
  const rate = (seconds: number) => (size / MiB / seconds).toFixed(0)
  const spread = (values: number[]) => `${rate(Math.max(...values))}-${rate(Math.min(...values))}`
  console.log(
    `\n${table([
      { way: 'POST (curl -T)', 'MiB/s': rate(median(times.post)), range: spread(times.post) },
      { way: 'tus, one PATCH (curl)', 'MiB/s': rate(median(times.tus)), range: spread(times.tus) },
    ])}\nratio tus / POST: ${(median(times.post) / median(times.tus)).toFixed(2)}`,
  )

  const proxy = await startCuttingProxy(
    { host: '127.0.0.1', port: Number(new URL(server.url).port) },
    [Math.floor(size / 2)],
  )
  const started = process.hrtime.bigint()
  await new Promise<void>((resolve, reject) => {
    new tus.Upload(createReadStream(path), {
      endpoint: `${proxy.url}/files/`,
      retryDelays: [0, 500, 1000, 2000],
      onSuccess: () => resolve(),
      onError: reject,
    }).start()
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  await proxy.close()
  console.log(
    `\ntus-js-client through a relay cut at 50%: ${proxy.cuts} cut, ${(proxy.upstreamBytes / MiB).toFixed(1)} MiB sent for ${size / MiB} MiB (${(proxy.upstreamBytes / size).toFixed(4)}x), ${rate(seconds)} MiB/s`,
  )
} finally {
  await server.stop()
  await rm(store, { recursive: true, force: true })
}
