import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises'
import { type ClientRequest, request } from 'node:http'
import { join } from 'node:path'
import { listen, scrapeMetrics, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { type ChunkedServerOptions, createChunkedServer } from './index.js'

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

async function start(root?: string, options: Omit<ChunkedServerOptions, 'root'> = {}) {
  const dir = root ?? (await tempDir('chunked-')).path
  const server = createChunkedServer({ root: dir, ...options })
  const listening = await listen(server)
  return { ...listening, root: dir, server }
}

/** A chunked upload the test feeds piece by piece. */
function openIngest(url: string, headers: Record<string, string> = {}) {
  const req: ClientRequest = request(url, {
    method: 'PUT',
    headers: { 'transfer-encoding': 'chunked', ...headers },
  })
  req.on('error', () => {})
  const response = new Promise<number>((resolve) =>
    req.on('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    }),
  )
  return {
    req,
    response,
    write: (data: Buffer) => new Promise<void>((resolve) => req.write(data, () => resolve())),
  }
}

/** Reads a body fully; rejects if it ends abnormally. */
async function readAll(url: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(url)
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until the object at `url` is being uploaded (HEAD: 200 with no length yet). */
async function untilLive(url: string): Promise<void> {
  await expect
    .poll(
      async () => {
        const head = await fetch(url, { method: 'HEAD' })
        return head.status === 200 && head.headers.get('content-length') === null
      },
      { timeout: 15_000 },
    )
    .toBe(true)
}

describe('live objects', () => {
  it('gives readers that join before, during and after the ingest every byte', async () => {
    const { url } = await start()
    const pieces = Array.from({ length: 20 }, () =>
      randomBytes(100_000 + Math.floor(Math.random() * 50_000)),
    )
    const all = Buffer.concat(pieces)
    const ingest = openIngest(`${url}/live/seg.ts`, { 'content-type': 'video/mp2t' })
    await ingest.write(pieces[0] as Buffer)
    await untilLive(`${url}/live/seg.ts`)
    const early = readAll(`${url}/live/seg.ts`)
    let middle: ReturnType<typeof readAll> | undefined
    for (const [i, piece] of pieces.slice(1).entries()) {
      await ingest.write(piece)
      if (i === 9) middle = readAll(`${url}/live/seg.ts`)
      await pause(5)
    }
    ingest.req.end()
    expect(await ingest.response).toBe(201)
    const late = await readAll(`${url}/live/seg.ts`)
    for (const result of [await early, await middle, late]) {
      expect(result?.status).toBe(200)
      expect(result?.body.length).toBe(all.length)
      expect(sha256(result?.body ?? Buffer.alloc(0))).toBe(sha256(all))
      expect(result?.headers.get('content-type')).toBe('video/mp2t')
    }
    expect(late.headers.get('content-length')).toBe(String(all.length))
  })

  it('never truncates a slow reader', async () => {
    const { url } = await start()
    const all = randomBytes(8 * 1024 * 1024)
    const ingest = openIngest(`${url}/slow`)
    await ingest.write(all.subarray(0, 1024))
    await untilLive(`${url}/slow`)
    const res = await new Promise<import('node:http').IncomingMessage>((resolve) =>
      request(`${url}/slow`, resolve).end(),
    )
    expect(res.statusCode).toBe(200)
    res.pause()
    await ingest.write(all.subarray(1024))
    ingest.req.end()
    expect(await ingest.response).toBe(201)
    // The reader was paused for the whole ingest; it still gets every byte.
    const chunks: Buffer[] = []
    res.on('data', (chunk: Buffer) => chunks.push(chunk))
    res.resume()
    await once(res, 'end')
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(all))
  })

  it('ends readers abnormally when the ingest is aborted, and never serves it', async () => {
    const { url, root } = await start()
    const ingest = openIngest(`${url}/broken`)
    await ingest.write(randomBytes(50_000))
    await untilLive(`${url}/broken`)
    const live = await fetch(`${url}/broken`)
    expect(live.status).toBe(200)
    const reading = live.arrayBuffer()
    ingest.req.destroy()
    await expect(reading).rejects.toThrow()
    await expect.poll(async () => (await fetch(`${url}/broken`)).status).toBe(404)
    await expect.poll(() => readdir(join(root, '.partial'))).toEqual([])
  })

  it('DELETE stops an ingest in progress (leaving no file behind) and removes a finished object', async () => {
    const { url, root } = await start()
    const ingest = openIngest(`${url}/gone`)
    await ingest.write(randomBytes(1000))
    await untilLive(`${url}/gone`)
    const live = await fetch(`${url}/gone`)
    expect(live.status).toBe(200)
    const reading = live.arrayBuffer()
    // It fails as soon as the DELETE lands, maybe before the DELETE's own answer arrives.
    reading.catch(() => {})
    expect((await fetch(`${url}/gone`, { method: 'DELETE' })).status).toBe(204)
    await expect(reading).rejects.toThrow()
    expect((await fetch(`${url}/gone`)).status).toBe(404)
    await expect.poll(() => readdir(join(root, '.partial'))).toEqual([])
    expect(await readdir(root)).not.toContain('gone')

    expect((await fetch(`${url}/done`, { method: 'PUT', body: 'x' })).status).toBe(201)
    expect((await fetch(`${url}/done`, { method: 'DELETE' })).status).toBe(204)
    expect((await fetch(`${url}/done`)).status).toBe(404)
    expect((await fetch(`${url}/done`, { method: 'DELETE' })).status).toBe(404)
  })
})

describe('finished objects', () => {
  it('replays content headers only, with ETag, Range, 304 and HEAD', async () => {
    const { url } = await start()
    const put = await fetch(`${url}/v/playlist.m3u8`, {
      method: 'PUT',
      headers: {
        'content-type': 'application/vnd.apple.mpegurl',
        'cache-control': 'max-age=1',
        authorization: 'Bearer secret',
        'x-custom': 'private',
      },
      body: '#EXTM3U\n',
    })
    expect(put.status).toBe(201)
    const res = await fetch(`${url}/v/playlist.m3u8`)
    expect(await res.text()).toBe('#EXTM3U\n')
    expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl')
    expect(res.headers.get('cache-control')).toBe('max-age=1')
    expect(res.headers.get('authorization')).toBeNull()
    expect(res.headers.get('x-custom')).toBeNull()
    const etag = res.headers.get('etag') ?? ''
    expect(
      (await fetch(`${url}/v/playlist.m3u8`, { headers: { 'if-none-match': etag } })).status,
    ).toBe(304)
    const range = await fetch(`${url}/v/playlist.m3u8`, { headers: { range: 'bytes=1-3' } })
    expect(range.status).toBe(206)
    expect(await range.text()).toBe('EXT')
    const head = await fetch(`${url}/v/playlist.m3u8`, { method: 'HEAD' })
    expect(head.headers.get('content-length')).toBe('8')
  })

  it('serves files placed under the root by other means, typed by their extension', async () => {
    const { url, root } = await start()
    const segment = randomBytes(3 * 1024 * 1024 + 7)
    await mkdir(join(root, 'vod', 'dir'), { recursive: true })
    await writeFile(join(root, 'vod', 'seg1.m4s'), segment)
    await writeFile(join(root, 'vod', 'index.m3u8'), '#EXTM3U\n')
    await writeFile(join(root, 'vod', 'data'), 'no extension')
    await symlink(join(root, 'vod', 'seg1.m4s'), join(root, 'vod', 'link.m4s'))
    const whole = await readAll(`${url}/vod/seg1.m4s`)
    expect([whole.status, whole.headers.get('content-type')]).toEqual([200, 'video/mp4'])
    expect(sha256(whole.body)).toBe(sha256(segment))
    const etag = whole.headers.get('etag') ?? ''
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/)
    const range = await fetch(`${url}/vod/seg1.m4s`, {
      headers: { range: 'bytes=1048570-1048579' },
    })
    expect(range.status).toBe(206)
    expect(Buffer.from(await range.arrayBuffer())).toEqual(segment.subarray(1048570, 1048580))
    expect(
      (await fetch(`${url}/vod/seg1.m4s`, { headers: { 'if-none-match': etag } })).status,
    ).toBe(304)
    const playlist = await readAll(`${url}/vod/index.m3u8`)
    expect([
      playlist.status,
      playlist.headers.get('content-type'),
      playlist.body.toString(),
    ]).toEqual([200, 'application/vnd.apple.mpegurl', '#EXTM3U\n'])
    const untyped = await readAll(`${url}/vod/data`)
    expect([untyped.status, untyped.headers.get('content-type')]).toEqual([
      200,
      'application/octet-stream',
    ])
    expect((await fetch(`${url}/vod/dir`, { headers: { expires: 'in=0' } })).status).toBe(404)
    // A symbolic link placed there is not an object: never followed.
    expect((await fetch(`${url}/vod/link.m4s`, { headers: { expires: 'in=0' } })).status).toBe(404)
    // An upload replaces it like any object, and DELETE removes it.
    expect((await fetch(`${url}/vod/data`, { method: 'PUT', body: 'uploaded' })).status).toBe(201)
    expect((await readAll(`${url}/vod/data`)).body.toString()).toBe('uploaded')
    expect((await fetch(`${url}/vod/seg1.m4s`, { method: 'DELETE' })).status).toBe(204)
    expect((await fetch(`${url}/vod/seg1.m4s`, { headers: { expires: 'in=0' } })).status).toBe(404)
  })

  it('survives a restart; an upload cut by the restart is not served', async () => {
    const first = await start()
    expect((await fetch(`${first.url}/keep`, { method: 'PUT', body: 'kept' })).status).toBe(201)
    const ingest = openIngest(`${first.url}/cut`)
    await ingest.write(Buffer.from('half'))
    await untilLive(`${first.url}/cut`)
    first.server.close()
    if ('closeAllConnections' in first.server) first.server.closeAllConnections()
    const second = await start(first.root)
    await second.server.handler.ready
    expect((await readAll(`${second.url}/keep`)).body.toString()).toBe('kept')
    expect((await fetch(`${second.url}/cut`)).status).toBe(404)
    expect(await readdir(join(first.root, '.partial'))).toEqual([])
  })
})

describe('file descriptors', () => {
  it('leaks none across many GETs of finished, live and missing objects', async () => {
    const { url, root } = await start()
    await fetch(`${url}/static.ts`, { method: 'PUT', body: randomBytes(200_000) })
    const ingest = openIngest(`${url}/live.ts`)
    await ingest.write(randomBytes(1000))
    await untilLive(`${url}/live.ts`)
    // Files under the store's root opened by this process (sockets and others do not count).
    const openFds = async () => {
      let count = 0
      for (const fd of await readdir('/proc/self/fd')) {
        const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '')
        if (target.startsWith(root)) count++
      }
      return count
    }
    const before = await openFds()
    for (let i = 0; i < 40; i++) {
      await (await fetch(`${url}/static.ts`)).arrayBuffer()
      await (await fetch(`${url}/missing.ts`)).arrayBuffer()
      const controller = new AbortController()
      const live = await fetch(`${url}/live.ts`, { signal: controller.signal })
      controller.abort()
      await live.arrayBuffer().catch(() => {})
    }
    ingest.req.end()
    expect(await ingest.response).toBe(201)
    // Only the upload's own file (written, and read for its readers) was open before; once it is
    // stored and its readers are gone, nothing is.
    expect(before).toBe(2)
    await expect.poll(openFds).toBe(0)
    // 120 requests: generous on a loaded 2-core machine running other suites beside this one.
  }, 30_000)
})

describe('bad keys', () => {
  it('answers POST / and dot keys with 400, conflicts with 409, and keeps serving', async () => {
    const { url } = await start()
    expect((await fetch(`${url}/`, { method: 'POST', body: 'x' })).status).toBe(400)
    expect((await fetch(`${url}/.meta/x`, { method: 'PUT', body: 'x' })).status).toBe(400)
    expect((await fetch(`${url}/a`, { method: 'PUT', body: 'a' })).status).toBe(201)
    expect((await fetch(`${url}/a/b`, { method: 'PUT', body: 'b' })).status).toBe(409)
    expect((await fetch(`${url}/c/d`, { method: 'PUT', body: 'd' })).status).toBe(201)
    expect((await fetch(`${url}/c`, { method: 'PUT', body: 'c' })).status).toBe(409)
    expect((await readAll(`${url}/a`)).body.toString()).toBe('a')
  })

  it('uses the URL path only: the query cannot reach another file', async () => {
    const { url, root } = await start()
    expect(
      (await fetch(`${url}/seg?name=../../../etc/passwd`, { method: 'PUT', body: 'seg' })).status,
    ).toBe(201)
    expect((await readAll(`${url}/seg?x=../../../etc/passwd`)).body.toString()).toBe('seg')
    for (const path of ['/a/..%2f..%2fetc%2fpasswd', '/x%00', '/a%5c..%5cb']) {
      expect((await fetch(`${url}${path}`)).status, path).toBe(404)
      expect((await fetch(`${url}${path}`, { method: 'PUT', body: 'x' })).status, path).toBe(400)
    }
    // Dot segments are resolved by URL parsing itself: the object lands inside the root.
    expect((await fetch(`${url}/%2e%2e/%2e%2e/up`, { method: 'PUT', body: 'inside' })).status).toBe(
      201,
    )
    expect(await readdir(root)).toContain('up')
  })
})

describe('wait for content', () => {
  it('holds a GET for a missing key until its upload starts, with Waited-For-Data-Ms', async () => {
    const { url } = await start(undefined, { waitMs: 5000 })
    const reading = fetch(`${url}/next.ts`)
    // The GET is waiting (however long it took to arrive), and has waited a little, when the PUT comes.
    await expect
      .poll(async () =>
        (await scrapeMetrics(`${url}/metrics`)).get('chunked_server_waiting_requests'),
      )
      .toBe(1)
    await pause(150)
    expect((await fetch(`${url}/next.ts`, { method: 'PUT', body: 'segment' })).status).toBe(201)
    const res = await reading
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('segment')
    expect(Number(res.headers.get('waited-for-data-ms'))).toBeGreaterThanOrEqual(100)
  })

  it('never misses an upload that starts while the GET looks in storage', async () => {
    // A GET of a key, then its PUT a moment later (0 to 3 ms), many times over: however the two
    // interleave on the server (the upload may begin while the GET looks on disk), the GET streams
    // the object as soon as its upload starts.
    const { url } = await start(undefined, { waitMs: 10_000 })
    const pair = async (i: number) => {
      const body = randomBytes(1000 + i)
      const reading = readAll(`${url}/race/${i}.ts`)
      await pause(i % 4)
      const ingest = openIngest(`${url}/race/${i}.ts`)
      await ingest.write(body)
      ingest.req.end()
      const [read] = await Promise.all([reading, ingest.response])
      return { i, status: read.status, same: read.body.equals(body) }
    }
    const results = []
    for (let batch = 0; batch < 40; batch++) {
      results.push(...(await Promise.all([0, 1, 2, 3, 4].map((j) => pair(batch * 5 + j)))))
    }
    // A GET that missed its upload would wait out the 10 s and get 404.
    expect(results.filter((r) => r.status !== 200 || !r.same)).toEqual([])
  })

  it('answers 404 after the wait, and Expires: in=N sets the wait per request', async () => {
    const { url } = await start(undefined, { waitMs: 100 })
    const started = Date.now()
    const res = await fetch(`${url}/never.ts`)
    expect(res.status).toBe(404)
    expect(Number(res.headers.get('waited-for-data-ms'))).toBeGreaterThanOrEqual(90)
    expect(Date.now() - started).toBeLessThan(4000)

    const asked = fetch(`${url}/later.ts`, { headers: { expires: 'in=3' } })
    await pause(500)
    await fetch(`${url}/later.ts`, { method: 'PUT', body: 'late' })
    expect(await (await asked).text()).toBe('late')
  })

  it('answers at once without a wait', async () => {
    const { url } = await start()
    const res = await fetch(`${url}/missing`)
    expect(res.status).toBe(404)
    expect(res.headers.get('waited-for-data-ms')).toBeNull()
  })
})

describe('CORS', () => {
  it('echoes one allowed origin with Vary, answers preflights, and ignores other origins', async () => {
    const { url } = await start(undefined, {
      cors: { allowedOrigins: ['https://player.example'], allowedHeaders: ['Content-Type'] },
    })
    await fetch(`${url}/c.m3u8`, { method: 'PUT', body: '#EXTM3U' })
    const allowed = await fetch(`${url}/c.m3u8`, { headers: { origin: 'https://player.example' } })
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://player.example')
    expect(allowed.headers.get('vary')).toBe('Origin')
    const other = await fetch(`${url}/c.m3u8`, { headers: { origin: 'https://evil.example' } })
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
    expect(other.headers.get('vary')).toBe('Origin')

    const preflight = await fetch(`${url}/c.m3u8`, {
      method: 'OPTIONS',
      headers: { origin: 'https://player.example', 'access-control-request-method': 'PUT' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PUT')
    expect(preflight.headers.get('access-control-allow-headers')).toBe('Content-Type')
    const refused = await fetch(`${url}/c.m3u8`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'PUT' },
    })
    expect(refused.status).toBe(403)
    const plain = await fetch(`${url}/c.m3u8`, { method: 'OPTIONS' })
    expect(plain.status).toBe(204)
    expect(plain.headers.get('allow')).toContain('PUT')
  })
})

describe('expiry and limits', () => {
  it('deletes a finished object when its Cache-Control max-age runs out', async () => {
    const { url } = await start(undefined, { expire: true })
    // No upper bound on when a request lands: only "eventually gone" and "still there".
    for (const [key, cacheControl] of [
      ['short.ts', 'public, max-age=1'],
      ['long.ts', 'public, max-age=3600'],
      ['plain.ts', undefined],
    ] as const) {
      const put = await fetch(`${url}/${key}`, {
        method: 'PUT',
        headers: cacheControl === undefined ? {} : { 'cache-control': cacheControl },
        body: key,
      })
      expect(put.status).toBe(201)
    }
    await expect
      .poll(async () => (await fetch(`${url}/short.ts`)).status, { timeout: 15_000 })
      .toBe(404)
    expect((await fetch(`${url}/long.ts`)).status).toBe(200)
    expect((await fetch(`${url}/plain.ts`)).status).toBe(200)
  })

  it('keeps objects without expire, whatever their max-age', async () => {
    const { url } = await start()
    await fetch(`${url}/kept.ts`, {
      method: 'PUT',
      headers: { 'cache-control': 'max-age=0' },
      body: 'x',
    })
    await pause(50)
    expect((await fetch(`${url}/kept.ts`)).status).toBe(200)
  })

  it('answers 413 to an object over the size limit, sized or chunked, and stores nothing', async () => {
    const { url, root } = await start(undefined, { maxObjectSize: 1000 })
    expect((await fetch(`${url}/big`, { method: 'PUT', body: 'x'.repeat(1001) })).status).toBe(413)
    const ingest = openIngest(`${url}/big2`)
    await ingest.write(randomBytes(600))
    await ingest.write(randomBytes(600))
    expect(await ingest.response).toBe(413)
    expect((await fetch(`${url}/big2`)).status).toBe(404)
    await expect.poll(() => readdir(join(root, '.partial'))).toEqual([])
    expect((await fetch(`${url}/ok`, { method: 'PUT', body: 'x'.repeat(1000) })).status).toBe(201)
  })

  it('aborts an upload that goes idle, ending its readers abnormally', async () => {
    // Long enough for the reader below to reach the upload on a loaded machine.
    const { url } = await start(undefined, { ingestIdleTimeout: 2_000 })
    const ingest = openIngest(`${url}/stalled`)
    await ingest.write(Buffer.from('some'))
    await untilLive(`${url}/stalled`)
    const live = await fetch(`${url}/stalled`)
    await expect(live.arrayBuffer()).rejects.toThrow()
    expect((await fetch(`${url}/stalled`)).status).toBe(404)
  })
})
