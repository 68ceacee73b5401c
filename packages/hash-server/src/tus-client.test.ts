import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, readdir, stat } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  freePort,
  payloadFile,
  type ServerProcess,
  samplePeakRss,
  seededRandom,
  startCuttingProxy,
  startServerProcess,
  tempDir,
} from '@sluice/test-utils'
import * as tus from 'tus-js-client'
import { describe, expect, it } from 'vitest'
import { startHashServer } from '../test/helpers.js'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))
const MiB = 1024 * 1024
// Generous: the server may be restarting, or the machine loaded.
const RETRY_DELAYS = [0, 200, 500, 1000, 2000, 4000, 8000, 8000, 8000]

interface Finished {
  /** The final PATCH's `Repr-Digest`. */
  readonly reprDigest: string | null
  readonly contentLocation: string | null
  readonly url: string
}

/** Uploads `input` with tus-js-client's Node defaults (plus `options`), resolving once it succeeds. */
function tusUpload(
  input: Buffer | ReturnType<typeof createReadStream>,
  endpoint: string,
  options: Partial<tus.UploadOptions> = {},
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(input, {
      endpoint,
      retryDelays: RETRY_DELAYS,
      metadata: { filename: 'payload.bin' },
      ...options,
      onError: reject,
      onSuccess: (payload) => {
        resolve({
          reprDigest: payload.lastResponse.getHeader('Repr-Digest') ?? null,
          contentLocation: payload.lastResponse.getHeader('Content-Location') ?? null,
          url: upload.url ?? '',
        })
      },
    })
    upload.start()
  })
}

const reprOf = (algorithm: 'md5' | 'sha256', hex: string) =>
  `${algorithm === 'md5' ? 'md5' : 'sha-256'}=:${Buffer.from(hex, 'hex').toString('base64')}:`

async function startCli(args: string[]): Promise<ServerProcess> {
  return startServerProcess(process.execPath, [BIN, ...args])
}

describe('tus-js-client against hash-server', () => {
  it('uploads 256 MiB through a proxy that cuts the connection three times: right digest, each byte about once', {
    timeout: 240_000,
  }, async () => {
    const dir = await tempDir('hash-server-tus-client-')
    const file = await payloadFile(join(dir.path, 'payload.bin'), 256 * MiB)
    await mkdir(join(dir.path, 'store'))
    const server = await startHashServer({
      algorithms: 'sha256,md5',
      store: join(dir.path, 'store'),
      tus: { path: '/files/', directory: join(dir.path, 'tus') },
    })
    await server.server.handler.ready
    const random = seededRandom(23)
    const cuts = [random(), random(), random()].map((r) => Math.floor(r * file.size))
    const proxy = await startCuttingProxy({ host: '127.0.0.1', port: server.port }, cuts)
    const done = await tusUpload(createReadStream(file.path), `${proxy.url}/files/`)
    expect(proxy.cuts).toBe(3)
    expect(done.reprDigest).toBe(`${reprOf('sha256', file.sha256)}, ${reprOf('md5', file.md5)}`)
    expect(done.contentLocation).toBe(`/sha256/${file.sha256}`)
    expect((await stat(join(dir.path, 'store', 'sha256', file.sha256))).size).toBe(file.size)
    // Headers and the bytes in flight at each cut aside, every byte crossed once.
    expect(proxy.upstreamBytes).toBeGreaterThanOrEqual(file.size)
    expect(proxy.upstreamBytes).toBeLessThan(file.size + 3 * MiB)
    expect(await readdir(join(dir.path, 'tus'))).toEqual(
      expect.arrayContaining([`${done.url.split('/').pop()}.json`]),
    )
  })

  it('resumes after the server is killed (SIGKILL) mid-upload and started again: the digest is right', {
    timeout: 180_000,
  }, async () => {
    const dir = await tempDir('hash-server-tus-kill-')
    const file = await payloadFile(join(dir.path, 'payload.bin'), 96 * MiB)
    const store = join(dir.path, 'store')
    // Where uploads in progress are kept by default with a directory store.
    const tusDir = join(store, '.tus')
    const port = await freePort()
    const args = [
      ...['--port', String(port), '--algorithm', 'sha256', '--tus-path', '/files/'],
      ...['--store', store],
    ]
    let server = await startCli(args)
    let keptAtKill = -1
    const kill = async () => {
      const until = Date.now() + 60_000
      while (Date.now() < until) {
        const sizes = await readdir(tusDir).then((names) =>
          Promise.all(
            names
              .filter((n) => n.endsWith('.bin'))
              .map((n) => stat(join(tusDir, n)).then((s) => s.size)),
          ),
        )
        if (sizes.some((size) => size >= 24 * MiB)) {
          keptAtKill = Math.max(...sizes)
          break
        }
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      server.child.kill('SIGKILL')
      await new Promise((resolve) => server.child.once('exit', resolve))
      server = await startCli(args)
    }
    const [done] = await Promise.all([
      tusUpload(createReadStream(file.path), `http://127.0.0.1:${port}/files/`, {
        // Small chunks: a PATCH at a time, the kill lands between or inside them.
        chunkSize: 8 * MiB,
      }),
      kill(),
    ])
    expect(keptAtKill).toBeGreaterThan(0)
    expect(keptAtKill).toBeLessThan(file.size)
    expect(done.reprDigest).toBe(reprOf('sha256', file.sha256))
    expect(done.contentLocation).toBe(`/sha256/${file.sha256}`)
    const stored = await fetch(`http://127.0.0.1:${port}/sha256/${file.sha256}`)
    const hash = createHash('sha256')
    for await (const chunk of stored.body as AsyncIterable<Uint8Array>) hash.update(chunk)
    expect(hash.digest('hex')).toBe(file.sha256)
    await server.stop()
  })

  it('cuts back, after a SIGKILL, the bytes of a checksummed PATCH that was never verified', async () => {
    const dir = await tempDir('hash-server-tus-kill-check-')
    const tusDir = join(dir.path, 'tus')
    const port = await freePort()
    const args = ['--port', String(port), '--tus-path', '/files/', '--tus-dir', tusDir]
    const server = await startCli(args)
    const tusHeaders = { 'Tus-Resumable': '1.0.0' }
    const first = randomBytes(1000)
    const created = await fetch(`${server.url}/files/`, {
      method: 'POST',
      headers: { ...tusHeaders, 'Upload-Length': String(64 * MiB) },
    })
    const path = created.headers.get('location') as string
    const octets = { ...tusHeaders, 'Content-Type': 'application/offset+octet-stream' }
    await fetch(`${server.url}${path}`, {
      method: 'PATCH',
      headers: { ...octets, 'Upload-Offset': '0' },
      body: first,
    })
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write(
      `PATCH ${path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n` +
        'Content-Type: application/offset+octet-stream\r\nUpload-Offset: 1000\r\n' +
        `Upload-Checksum: sha1 ${createHash('sha1').update('anything').digest('base64')}\r\n` +
        `Content-Length: ${64 * MiB - 1000}\r\n\r\n`,
    )
    socket.write(randomBytes(8 * MiB))
    const data = join(tusDir, `${path.split('/').pop()}.bin`)
    await expect.poll(async () => (await stat(data)).size).toBeGreaterThan(4 * MiB)
    server.child.kill('SIGKILL')
    await new Promise((resolve) => server.child.once('exit', resolve))
    socket.destroy()
    const again = await startCli(args)
    const res = await fetch(`${again.url}${path}`, { method: 'HEAD', headers: tusHeaders })
    expect([res.status, res.headers.get('upload-offset')]).toEqual([200, '1000'])
    expect((await stat(data)).size).toBe(1000)
    await again.stop()
  })

  it('takes 50 uploads in parallel, each cut once: every digest right, peak RSS bounded', {
    timeout: 240_000,
  }, async () => {
    const dir = await tempDir('hash-server-tus-many-')
    const tusDir = join(dir.path, 'tus')
    const server = await startCli([
      '--port',
      '0',
      '--algorithm',
      'md5',
      '--tus-path',
      '/files/',
      '--tus-dir',
      tusDir,
    ])
    const rss = samplePeakRss(server.child.pid ?? 0)
    const { port } = new URL(server.url)
    const random = seededRandom(50)
    const files = await Promise.all(
      Array.from({ length: 50 }, (_, i) => payloadFile(join(dir.path, `f${i}.bin`), 4 * MiB + i)),
    )
    const proxies = await Promise.all(
      files.map((file) =>
        startCuttingProxy({ host: '127.0.0.1', port: Number(port) }, [
          1000 + Math.floor(random() * (file.size - 2000)),
        ]),
      ),
    )
    const results = await Promise.all(
      files.map((file, i) => tusUpload(createReadStream(file.path), `${proxies[i]?.url}/files/`)),
    )
    const peak = rss.stop()
    results.forEach((result, i) => {
      expect(result.reprDigest, `upload ${i}`).toBe(reprOf('md5', files[i]?.md5 ?? ''))
    })
    expect(proxies.map((proxy) => proxy.cuts)).toEqual(files.map(() => 1))
    expect(peak).toBeGreaterThan(0)
    expect(peak).toBeLessThan(200 * MiB)
    await server.stop()
  })
})
