import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { get, request } from 'node:http'
import { fileURLToPath } from 'node:url'
import {
  type ListeningServer,
  listen,
  missingVarnish,
  scrapeMetrics,
  startVarnish,
  tempDir,
} from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { createChunkedServer } from './index.js'

const VCL = fileURLToPath(new URL('../../../deploy/varnish/chunked-edge.vcl', import.meta.url))
const varnishMissing = missingVarnish()
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The repository's edge VCL, pointed at the origin on `port`. */
async function edgeVcl(port: number): Promise<string> {
  const vcl = await readFile(VCL, 'utf8')
  expect(vcl).toContain('.port = "9094";')
  return vcl.replace('.port = "9094";', `.port = "${port}";`)
}

async function startOrigin(root?: string, port = 0): Promise<ListeningServer & { root: string }> {
  const dir = root ?? (await tempDir('chunked-edge-')).path
  const server = createChunkedServer({ root: dir, waitMs: 5000 })
  await server.handler.ready
  return { ...(await listen(server, '127.0.0.1', port)), root: dir }
}

/** Waits until every backend of `edge` is in `state` by its probe. */
async function untilBackend(edge: Awaited<ReturnType<typeof startVarnish>>, state: string) {
  await expect
    .poll(async () => [...(await edge.backendHealth()).values()], { timeout: 15_000 })
    .toEqual([state])
}

/**
 * A GET that compares the body with `expected` as it streams (byte for byte, cheaper than a digest
 * for a hundred readers of 64 MiB on two shared cores): whether every byte matched, its length,
 * when its first byte came, and whether it ended cleanly.
 */
function readThrough(url: string, expected: Buffer) {
  return new Promise<{
    status: number
    matches: boolean
    bytes: number
    firstAt: number
    complete: boolean
  }>((resolve) => {
    let bytes = 0
    let firstAt = 0
    let matches = true
    get(url, (res) => {
      res.on('data', (chunk: Buffer) => {
        if (bytes === 0) firstAt = Date.now()
        matches &&= chunk.equals(expected.subarray(bytes, bytes + chunk.length))
        bytes += chunk.length
      })
      const done = (complete: boolean) => () =>
        resolve({ status: res.statusCode ?? 0, matches, bytes, firstAt, complete })
      res.on('end', done(true))
      res.on('error', done(false))
      res.on('aborted', () => undefined)
    }).on('error', () => resolve({ status: 0, matches: false, bytes, firstAt, complete: false }))
  })
}

/** A paced chunked PUT of `data` to the origin: `rate` bytes a second, in 64 KiB writes. */
function pacedIngest(
  url: string,
  data: Buffer,
  rate: number,
  headers: Record<string, string> = {},
) {
  const req = request(url, {
    method: 'PUT',
    headers: { 'transfer-encoding': 'chunked', 'cache-control': 'max-age=60', ...headers },
  })
  req.on('error', () => {})
  const answered = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('close', () => resolve(0))
  })
  const started = Date.now()
  const run = async (stopAt = data.length) => {
    for (let offset = 0; offset < stopAt; offset += 64 * 1024) {
      const due = started + (offset / rate) * 1000 - Date.now()
      if (due > 0) await pause(due)
      if (!req.write(data.subarray(offset, Math.min(offset + 64 * 1024, stopAt)))) {
        await new Promise((resolve) => req.once('drain', resolve))
      }
    }
  }
  return { req, answered, run }
}

describe.skipIf(varnishMissing !== undefined)('Varnish edges in front of the origin', () => {
  it('two edges serve 100 live readers byte-exact with one origin GET each, while the object is ingested', {
    timeout: 180_000,
  }, async () => {
    const origin = await startOrigin()
    const vcl = await edgeVcl(origin.port)
    const edges = [await startVarnish(vcl, '512m'), await startVarnish(vcl, '512m')]
    for (const edge of edges) await untilBackend(edge, 'healthy')
    const data = randomBytes(64 * 1024 * 1024)
    const ingest = pacedIngest(`${origin.url}/live/big.ts`, data, 8 * 1024 * 1024)
    const ingesting = ingest.run().then(() => ingest.req.end())
    const readers: Promise<Awaited<ReturnType<typeof readThrough>>>[] = []
    for (let i = 0; i < 100; i++) {
      // Readers join over the first four seconds of an eight-second ingest, on both edges.
      readers.push(readThrough(`${edges[i % 2]?.url}/live/big.ts`, data))
      await pause(40)
    }
    await ingesting
    const ingestEnded = Date.now()
    expect(await ingest.answered).toBe(201)
    const results = await Promise.all(readers)
    for (const result of results) {
      expect(result).toMatchObject({
        status: 200,
        bytes: data.length,
        complete: true,
        matches: true,
      })
    }
    expect(Math.min(...results.map((r) => r.firstAt))).toBeLessThan(ingestEnded - 2000)
    const metrics = await scrapeMetrics(`${origin.url}/metrics`)
    // One origin GET per edge, however many readers: live, or held until the upload started.
    const gets = [...metrics]
      .filter(([series]) => series.startsWith('chunked_server_gets_total{'))
      .filter(([series]) => series.includes('prefix="/live"'))
      .reduce((sum, [, value]) => sum + value, 0)
    expect(gets).toBe(2)
    expect(metrics.has('chunked_server_gets_total{state="finished",prefix="/live"}')).toBe(false)
  })

  it('never serves an aborted ingest as complete', { timeout: 60_000 }, async () => {
    const origin = await startOrigin()
    const vcl = await edgeVcl(origin.port)
    const edges = [await startVarnish(vcl), await startVarnish(vcl)]
    for (const edge of edges) await untilBackend(edge, 'healthy')
    const data = randomBytes(8 * 1024 * 1024)
    const ingest = pacedIngest(`${origin.url}/live/cut.ts`, data, 8 * 1024 * 1024)
    const writing = ingest.run(data.length / 2)
    await pause(200)
    const readers = edges.flatMap((edge) =>
      [1, 2].map(() => readThrough(`${edge.url}/live/cut.ts`, data)),
    )
    await writing
    await pause(300)
    ingest.req.destroy()
    for (const result of await Promise.all(readers)) {
      expect(result.complete).toBe(false)
      expect(result.bytes).toBeLessThan(data.length)
    }
    for (const edge of edges) {
      const later = await fetch(`${edge.url}/live/cut.ts`, { headers: { expires: 'in=1' } })
      expect(later.status).toBe(404)
      await later.arrayBuffer()
    }
  })

  it('marks an origin that went down sick, serves only whole cached objects meanwhile, and recovers', {
    timeout: 60_000,
  }, async () => {
    const root = (await tempDir('chunked-edge-down-')).path
    const origin = await startOrigin(root)
    const edge = await startVarnish(await edgeVcl(origin.port))
    await untilBackend(edge, 'healthy')
    const cached = randomBytes(300_000)
    await fetch(`${origin.url}/vod/a.ts`, {
      method: 'PUT',
      body: cached,
      headers: { 'cache-control': 'max-age=60' },
    })
    const first = await fetch(`${edge.url}/vod/a.ts`)
    expect(sha256(Buffer.from(await first.arrayBuffer()))).toBe(sha256(cached))

    await origin.close()
    await untilBackend(edge, 'sick')
    const hit = await fetch(`${edge.url}/vod/a.ts`)
    expect(hit.status).toBe(200)
    expect(hit.headers.get('x-cache')).toBe('HIT')
    expect(sha256(Buffer.from(await hit.arrayBuffer()))).toBe(sha256(cached))
    const missing = await fetch(`${edge.url}/vod/b.ts`)
    expect(missing.status).toBe(503)
    await missing.arrayBuffer()

    const back = await startOrigin(root, origin.port)
    await untilBackend(edge, 'healthy')
    await fetch(`${back.url}/vod/b.ts`, { method: 'PUT', body: Buffer.from('after') })
    expect(await (await fetch(`${edge.url}/vod/b.ts`)).text()).toBe('after')
  })

  it('refuses writes at the edge and never caches the reports', async () => {
    const origin = await startOrigin()
    const edge = await startVarnish(await edgeVcl(origin.port))
    for (const method of ['PUT', 'POST', 'DELETE']) {
      const res = await fetch(`${edge.url}/live/x.ts`, {
        method,
        ...(method === 'DELETE' ? {} : { body: 'x' }),
      })
      expect(res.status, method).toBe(405)
      await res.arrayBuffer()
    }
    expect((await fetch(`${origin.url}/live/x.ts`)).status).toBe(404)
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${edge.url}/metrics`)
      expect(res.headers.get('x-cache')).toBe('MISS')
      await res.text()
    }
  })
})
