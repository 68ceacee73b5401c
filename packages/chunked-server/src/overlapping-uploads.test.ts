import { createHash, randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { listen, scrapeMetrics, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { rawUpload } from '../test/raw-upload.js'
import { type ChunkedServerOptions, createChunkedServer } from './index.js'

/** Digests compare fast (vitest compares buffers byte by byte) and print short. */
const sha256 = (...chunks: Buffer[]) => {
  const hash = createHash('sha256')
  for (const chunk of chunks) hash.update(chunk)
  return hash.digest('hex')
}

async function start(options: Partial<ChunkedServerOptions>) {
  const dir = await tempDir('chunked-overlap-')
  const server = createChunkedServer({ root: dir.path, ...options })
  await server.handler.ready
  const listening = await listen(server)
  const liveUploads = async () =>
    (await scrapeMetrics(`${listening.url}/metrics`)).get('chunked_server_live_objects')
  return { ...listening, root: dir.path, liveUploads }
}

/**
 * Starts a GET and resolves once its headers came (the origin has chosen what it answers with);
 * `body` rejects when the response ends abnormally.
 */
async function startReading(url: string) {
  const res = await fetch(url)
  const body = res.arrayBuffer().then((bytes) => sha256(Buffer.from(bytes)))
  body.catch(() => {})
  return { status: res.status, length: res.headers.get('content-length'), body }
}

/** The digest of the stored object, or the status that says there is none. */
async function stored(url: string): Promise<string | number> {
  const res = await fetch(url)
  return res.status === 200 ? sha256(Buffer.from(await res.arrayBuffer())) : res.status
}

const parts = () => [randomBytes(200_000), randomBytes(300_000)] as const

describe.each([
  ['disk', {}],
  ['memory (-r)', { memoryBudget: 64 * 1024 * 1024 }],
] as const)('overlapping uploads of one key, %s storage', (storage, options) => {
  const noPartials = async (root: string) => {
    if (storage !== 'disk') return
    await expect.poll(() => readdir(join(root, '.partial'))).toEqual([])
  }

  it('A then B start, A finishes first: B is stored; each reader gets its upload whole', async () => {
    const { url, port, root, liveUploads } = await start(options)
    const [a1, a2] = parts()
    const [b1, b2] = parts()
    const a = rawUpload(port, '/k.ts')
    await a.write(a1)
    await expect.poll(liveUploads).toBe(1)
    const onA = await startReading(`${url}/k.ts`)
    const b = rawUpload(port, '/k.ts')
    await b.write(b1)
    await expect.poll(liveUploads).toBe(2)
    const onB = await startReading(`${url}/k.ts`)
    await a.write(a2)
    const answerA = await a.finish()
    expect(answerA.status).toBe(201)
    expect(answerA.body).toContain('stored /k.ts (500000 bytes)')
    // A is stored, but B started later and is still arriving: new readers follow B, live.
    const afterA = await startReading(`${url}/k.ts`)
    expect(afterA.length).toBeNull()
    await b.write(b2)
    expect((await b.finish()).status).toBe(201)
    expect(await onA.body).toBe(sha256(a1, a2))
    expect(await onB.body).toBe(sha256(b1, b2))
    expect(await afterA.body).toBe(sha256(b1, b2))
    expect(await stored(`${url}/k.ts`)).toBe(sha256(b1, b2))
    await noPartials(root)
  })

  it('B finishes first: A, completing later, never overwrites it and leaves nothing', async () => {
    const { url, port, root, liveUploads } = await start(options)
    const [a1, a2] = parts()
    const [b1, b2] = parts()
    const a = rawUpload(port, '/k.ts')
    await a.write(a1)
    await expect.poll(liveUploads).toBe(1)
    const onA = await startReading(`${url}/k.ts`)
    const b = rawUpload(port, '/k.ts')
    await b.write(b1)
    await expect.poll(liveUploads).toBe(2)
    const onB = await startReading(`${url}/k.ts`)
    await b.write(b2)
    expect((await b.finish()).status).toBe(201)
    // B is the object now: a static answer, though A is still arriving.
    const afterB = await fetch(`${url}/k.ts`)
    expect(afterB.headers.get('content-length')).toBe('500000')
    expect(sha256(Buffer.from(await afterB.arrayBuffer()))).toBe(sha256(b1, b2))
    await a.write(a2)
    const answerA = await a.finish()
    expect(answerA.status).toBe(201)
    expect(answerA.body).toContain(
      'received /k.ts (500000 bytes); an upload of it that started later replaced it',
    )
    expect(await onA.body).toBe(sha256(a1, a2))
    expect(await onB.body).toBe(sha256(b1, b2))
    expect(await stored(`${url}/k.ts`)).toBe(sha256(b1, b2))
    await expect.poll(liveUploads).toBe(0)
    const metrics = await fetch(`${url}/metrics`).then((res) => res.text())
    expect(metrics).toContain('chunked_server_uploads_total{outcome="superseded"} 1')
    expect(metrics).toContain('chunked_server_uploads_total{outcome="stored"} 1')
    await noPartials(root)
  })

  it('B aborted: its readers end abnormally, new readers follow A, and A is stored', async () => {
    const { url, port, root, liveUploads } = await start(options)
    const [a1, a2] = parts()
    const [b1] = parts()
    const a = rawUpload(port, '/k.ts')
    await a.write(a1)
    await expect.poll(liveUploads).toBe(1)
    const b = rawUpload(port, '/k.ts')
    await b.write(b1)
    await expect.poll(liveUploads).toBe(2)
    const onB = await startReading(`${url}/k.ts`)
    b.abort()
    await expect(onB.body).rejects.toThrow()
    await expect.poll(liveUploads).toBe(1)
    const onA = await startReading(`${url}/k.ts`)
    expect(onA.length).toBeNull()
    await a.write(a2)
    expect((await a.finish()).status).toBe(201)
    expect(await onA.body).toBe(sha256(a1, a2))
    expect(await stored(`${url}/k.ts`)).toBe(sha256(a1, a2))
    await noPartials(root)
  })

  it('A stored while B arrives, then B aborted: A stays', async () => {
    const { url, port, root, liveUploads } = await start(options)
    const [a1] = parts()
    const [b1] = parts()
    const a = rawUpload(port, '/k.ts')
    await a.write(a1)
    await expect.poll(liveUploads).toBe(1)
    const b = rawUpload(port, '/k.ts')
    await b.write(b1)
    await expect.poll(liveUploads).toBe(2)
    expect((await a.finish()).status).toBe(201)
    b.abort()
    await expect.poll(liveUploads).toBe(0)
    expect(await stored(`${url}/k.ts`)).toBe(sha256(a1))
    await noPartials(root)
  })

  it('DELETE during both stops both, ends their readers abnormally and removes the object', async () => {
    const { url, port, root, liveUploads } = await start(options)
    expect((await fetch(`${url}/k.ts`, { method: 'PUT', body: 'old' })).status).toBe(201)
    const a = rawUpload(port, '/k.ts')
    await a.write(randomBytes(100_000))
    await expect.poll(liveUploads).toBe(1)
    const onA = await startReading(`${url}/k.ts`)
    const b = rawUpload(port, '/k.ts')
    await b.write(randomBytes(100_000))
    await expect.poll(liveUploads).toBe(2)
    const onB = await startReading(`${url}/k.ts`)
    expect((await fetch(`${url}/k.ts`, { method: 'DELETE' })).status).toBe(204)
    await expect(onA.body).rejects.toThrow()
    await expect(onB.body).rejects.toThrow()
    // Both connections were cut: no upload was answered as stored.
    expect((await a.answered).status).not.toBe(201)
    expect((await b.answered).status).not.toBe(201)
    expect(await liveUploads()).toBe(0)
    expect(await stored(`${url}/k.ts`)).toBe(404)
    expect((await fetch(`${url}/k.ts`, { method: 'DELETE' })).status).toBe(404)
    // The key takes the next upload at once.
    expect((await fetch(`${url}/k.ts`, { method: 'PUT', body: 'new' })).status).toBe(201)
    expect(await stored(`${url}/k.ts`)).toBe(sha256(Buffer.from('new')))
    await noPartials(root)
  })

  it('a late older playlist wakes no blocking reload; the newest version answers it', async () => {
    const { url, port } = await start(options)
    const playlist = (last: number) =>
      [
        '#EXTM3U',
        '#EXT-X-TARGETDURATION:10',
        '#EXT-X-MEDIA-SEQUENCE:0',
        ...Array.from({ length: last + 1 }, (_, n) => `#EXTINF:1,\nseg${n}.ts`),
        '',
      ].join('\n')
    expect((await fetch(`${url}/p.m3u8`, { method: 'PUT', body: playlist(1) })).status).toBe(201)
    let answered = false
    const reload = fetch(`${url}/p.m3u8?_HLS_msn=3`).then(async (res) => {
      answered = true
      return { status: res.status, text: await res.text() }
    })
    await expect
      .poll(async () => (await scrapeMetrics(`${url}/metrics`)).get('chunked_server_held_reloads'))
      .toBe(1)
    // The older upload holds segment 3, the newer one does not.
    const older = rawUpload(port, '/p.m3u8')
    await older.write(playlist(3).slice(0, 20))
    await expect
      .poll(async () => (await scrapeMetrics(`${url}/metrics`)).get('chunked_server_live_objects'))
      .toBe(1)
    const newer = rawUpload(port, '/p.m3u8')
    await newer.write(playlist(2))
    await expect
      .poll(async () => (await scrapeMetrics(`${url}/metrics`)).get('chunked_server_live_objects'))
      .toBe(2)
    expect((await newer.finish()).status).toBe(201)
    await older.write(playlist(3).slice(20))
    expect((await older.finish()).body).toContain('replaced it')
    expect(await stored(`${url}/p.m3u8`)).toBe(sha256(Buffer.from(playlist(2))))
    // Still held: the only version with segment 3 was superseded.
    expect(
      await scrapeMetrics(`${url}/metrics`).then((m) => m.get('chunked_server_held_reloads')),
    ).toBe(1)
    expect(answered).toBe(false)
    expect((await fetch(`${url}/p.m3u8`, { method: 'PUT', body: playlist(3) })).status).toBe(201)
    expect(await reload).toEqual({ status: 200, text: playlist(3) })
  })
})
