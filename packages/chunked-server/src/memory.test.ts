import { createHash, randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { request } from 'node:http'
import { listen, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { createChunkedServer } from './index.js'

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

async function start(memoryBudget: number) {
  const dir = await tempDir('chunked-ram-')
  const server = await listen(createChunkedServer({ root: dir.path, memoryBudget }))
  return { ...server, root: dir.path }
}

describe('RAM-only storage (-r)', () => {
  it('serves live and finished objects from memory, byte-exact, and writes nothing to disk', async () => {
    const { url, root } = await start(64 * 1024 * 1024)
    const pieces = [randomBytes(300_000), randomBytes(500_000), randomBytes(7)]
    const req = request(`${url}/live.ts`, {
      method: 'PUT',
      headers: { 'content-type': 'video/mp2t' },
    })
    const stored = new Promise<number>((resolve) =>
      req.on('response', (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      }),
    )
    req.write(pieces[0])
    await expect
      .poll(async () => (await fetch(`${url}/live.ts`, { method: 'HEAD' })).status)
      .toBe(200)
    const live = fetch(`${url}/live.ts`).then(async (res) => Buffer.from(await res.arrayBuffer()))
    req.write(pieces[1])
    req.end(pieces[2])
    expect(await stored).toBe(201)
    const all = Buffer.concat(pieces)
    expect(sha256(await live)).toBe(sha256(all))

    const finished = await fetch(`${url}/live.ts`)
    expect(finished.headers.get('content-type')).toBe('video/mp2t')
    expect(finished.headers.get('content-length')).toBe(String(all.length))
    expect(sha256(Buffer.from(await finished.arrayBuffer()))).toBe(sha256(all))
    const range = await fetch(`${url}/live.ts`, { headers: { range: 'bytes=299990-300009' } })
    expect(range.status).toBe(206)
    expect(Buffer.from(await range.arrayBuffer())).toEqual(all.subarray(299_990, 300_010))
    const etag = finished.headers.get('etag') ?? ''
    expect((await fetch(`${url}/live.ts`, { headers: { 'if-none-match': etag } })).status).toBe(304)
    expect((await readdir(root)).filter((name) => !name.startsWith('.'))).toEqual([])
  })

  it('answers 507 when the budget is full, stores nothing of that upload, and frees space on DELETE', async () => {
    const { url } = await start(1000)
    expect((await fetch(`${url}/a`, { method: 'PUT', body: 'x'.repeat(600) })).status).toBe(201)
    const full = await fetch(`${url}/b`, { method: 'PUT', body: 'y'.repeat(600) })
    expect(full.status).toBe(507)
    expect(await full.text()).toContain('memory budget of 1000 bytes is full')
    expect((await fetch(`${url}/b`)).status).toBe(404)
    expect((await fetch(`${url}/a`, { method: 'DELETE' })).status).toBe(204)
    expect((await fetch(`${url}/b`, { method: 'PUT', body: 'y'.repeat(600) })).status).toBe(201)
    // Replacing an object frees the old copy.
    expect((await fetch(`${url}/b`, { method: 'PUT', body: 'z'.repeat(300) })).status).toBe(201)
    expect((await fetch(`${url}/c`, { method: 'PUT', body: 'w'.repeat(600) })).status).toBe(201)
  })
})
