// Static serving of a finished object by @sluice/chunked-server (issue 22), against references
// measured in the same run, in interleaved rounds:
//   HTTP/1.1: a bare Node server (fs.read into 1 MiB buffers -> socket.write, no sendfile) and
//             nginx (1 worker, sendfile on);
//   HTTP/2 over TLS: nginx `ssl http2`.
//   pnpm --filter @sluice/bench bench:static [-- --size-mib 1024 --clients 4 --runs 5]
// Loopback only; every download is bounded by curl's --max-time.
import { randomFillSync } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { type ServerProcess, selfSignedCertificate, startServerProcess } from '@sluice/test-utils'
import { ingest } from './live-http.js'
import { benchArgs, concurrentDownloads, MiB, median, table } from './measure.js'
import { type Nginx, startNginx } from './nginx.js'

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    'size-mib': { type: 'string', default: '1024' },
    clients: { type: 'string', default: '4' },
    runs: { type: 'string', default: '5' },
  },
})
const size = Number(values['size-mib']) * MiB
const clients = Number(values.clients)
const runs = Number(values.runs)
const CLI = fileURLToPath(new URL('../../packages/chunked-server/bin.js', import.meta.url))
const BARE = fileURLToPath(new URL('./bare-file-server.mjs', import.meta.url))
const WORK = fileURLToPath(new URL('../../.bench/static', import.meta.url))
const KEY = '/vod/file.ts'

/** MiB/s of `clients` concurrent curl downloads of `url`. */
const download = (url: string, http2: boolean) =>
  concurrentDownloads(url, clients, size, http2 ? ['-k', '--http2'] : ['--http1.1'])

interface Target {
  readonly name: string
  readonly url: string
  readonly http2: boolean
  readonly results: number[]
}

await rm(WORK, { recursive: true, force: true })
const root = join(WORK, 'root')
await mkdir(root, { recursive: true })
const { certPath: cert, keyPath: key } = await selfSignedCertificate(WORK)
const servers: ServerProcess[] = []
const nginxes: Nginx[] = []
try {
  const plain = await startServerProcess(process.execPath, [CLI, '-i', '0', '-p', root])
  servers.push(plain)
  const payload = randomFillSync(Buffer.allocUnsafe(size))
  if ((await ingest(`${plain.url}${KEY}`, payload)) !== 201) throw new Error('ingest failed')
  const secure = await startServerProcess(process.execPath, [
    ...[CLI, '-i', '0', '-p', root, '-c', cert, '-k', key],
  ])
  servers.push(secure)
  const bare = await startServerProcess(process.execPath, [BARE, join(root, KEY)])
  servers.push(bare)
  const targets: Target[] = [
    { name: 'chunked-server, HTTP/1.1', url: `${plain.url}${KEY}`, http2: false, results: [] },
    { name: 'bare Node server, HTTP/1.1', url: bare.url, http2: false, results: [] },
  ]
  const nginx = await startNginx(WORK, root)
  if (typeof nginx === 'string') console.log(`nginx not measured: ${nginx}`)
  else {
    nginxes.push(nginx)
    targets.push({ name: 'nginx, HTTP/1.1', url: `${nginx.url}${KEY}`, http2: false, results: [] })
  }
  targets.push({
    name: 'chunked-server, HTTP/2',
    url: `${secure.url}${KEY}`,
    http2: true,
    results: [],
  })
  const nginxTls = await startNginx(WORK, root, { tls: { cert, key } })
  if (typeof nginxTls !== 'string') {
    nginxes.push(nginxTls)
    targets.push({ name: 'nginx, HTTP/2', url: `${nginxTls.url}${KEY}`, http2: true, results: [] })
  }
  console.log(
    `static GET of a ${size / MiB} MiB object, ${clients} concurrent curl, ${runs} interleaved rounds, node ${process.version}`,
  )
  for (let run = 0; run < runs; run++) {
    for (const target of targets) target.results.push(await download(target.url, target.http2))
  }
  const byName = (name: string) => targets.find((target) => target.name === name)
  const ratio = (ours: Target, reference: Target | undefined) =>
    reference === undefined ? '' : (median(ours.results) / median(reference.results)).toFixed(2)
  const rows = targets.map((target) => {
    const http2 = target.http2
    const ours = byName(http2 ? 'chunked-server, HTTP/2' : 'chunked-server, HTTP/1.1')
    const sorted = [...target.results].sort((a, b) => a - b)
    return {
      server: target.name,
      'MiB/s median (min-max)': `${median(target.results).toFixed(0)} (${sorted[0]?.toFixed(0)}-${sorted.at(-1)?.toFixed(0)})`,
      'chunked-server / this': ours === undefined || ours === target ? '' : ratio(ours, target),
    }
  })
  console.log(`\n${table(rows)}`)
} finally {
  for (const server of servers) await server.stop()
  for (const nginx of nginxes) await nginx.stop()
}
