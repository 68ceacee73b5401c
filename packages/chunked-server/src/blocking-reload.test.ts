import { request } from 'node:http'
import { listen, scrapeMetrics, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { type ChunkedServerOptions, createChunkedServer } from './index.js'

async function start(options: Partial<ChunkedServerOptions> = {}) {
  const dir = await tempDir('chunked-reload-')
  const server = createChunkedServer({ root: dir.path, ...options })
  return { ...(await listen(server)), server }
}

/** A media playlist: segments `first`…`last` (1 s each), then `parts` parts of the next one. */
function playlist(first: number, last: number, parts = 0, target = 1, extra = ''): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:9',
    `#EXT-X-TARGETDURATION:${target}`,
    '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6',
    '#EXT-X-PART-INF:PART-TARGET=0.2',
    `#EXT-X-MEDIA-SEQUENCE:${first}`,
  ]
  for (let n = first; n <= last; n++) lines.push('#EXTINF:1.0,', `seg${n}.m4s`)
  for (let p = 0; p < parts; p++)
    lines.push(`#EXT-X-PART:DURATION=0.2,URI="part${last + 1}.${p}.m4s"`)
  return `${lines.join('\n')}\n${extra}`
}

/** A PUT with no Content-Type unless given (as an encoder sends playlists). */
const put = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'PUT', body: Buffer.from(body), headers }).then((res) => res.status)

/** A GET that reports when it was answered, to tell a held request from an answered one. */
function held(url: string) {
  let answeredAt: number | undefined
  const response = fetch(url).then(async (res) => {
    answeredAt = Date.now()
    return { status: res.status, body: await res.text(), headers: res.headers }
  })
  return { response, answered: () => answeredAt !== undefined }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('blocking playlist reload', () => {
  it('holds _HLS_msn until a version has that segment, and answers with that version', async () => {
    const { url } = await start()
    expect(await put(`${url}/live/a.m3u8`, playlist(0, 2))).toBe(201)
    const reload = held(`${url}/live/a.m3u8?_HLS_msn=3`)
    await pause(300)
    expect(reload.answered()).toBe(false)
    // A version that does not have it yet keeps the request held.
    expect(await put(`${url}/live/a.m3u8`, playlist(0, 2, 3))).toBe(201)
    await pause(150)
    expect(reload.answered()).toBe(false)
    const wanted = playlist(0, 3)
    expect(await put(`${url}/live/a.m3u8`, wanted)).toBe(201)
    const answer = await reload.response
    expect(answer.status).toBe(200)
    expect(answer.body).toBe(wanted)
    expect(answer.headers.get('content-type')).toBe('application/vnd.apple.mpegurl')
    expect(answer.headers.get('content-length')).toBe(String(Buffer.byteLength(wanted)))
    expect(answer.headers.get('age')).toBeNull()
  })

  it('holds _HLS_part until the part is listed, and answers at once what is already there', async () => {
    const { url } = await start()
    await put(`${url}/live/p.m3u8`, playlist(5, 7, 2))
    for (const query of ['_HLS_msn=6', '_HLS_msn=8&_HLS_part=1', '_HLS_msn=7&_HLS_part=9']) {
      const started = Date.now()
      const res = await fetch(`${url}/live/p.m3u8?${query}`)
      expect(res.status, query).toBe(200)
      // At once, not held (a held reload would take its three seconds): room for a loaded machine.
      expect(Date.now() - started, query).toBeLessThan(2500)
      expect(await res.text()).toBe(playlist(5, 7, 2))
    }
    const reload = held(`${url}/live/p.m3u8?_HLS_msn=8&_HLS_part=2`)
    await pause(200)
    expect(reload.answered()).toBe(false)
    await put(`${url}/live/p.m3u8`, playlist(5, 7, 3))
    expect((await reload.response).body).toBe(playlist(5, 7, 3))
    // The ordinary GET is never held; a playlist that has ended is never held either.
    expect((await fetch(`${url}/live/p.m3u8`)).status).toBe(200)
    await put(`${url}/live/p.m3u8`, playlist(5, 7, 0, 1, '#EXT-X-ENDLIST\n'))
    expect((await fetch(`${url}/live/p.m3u8?_HLS_msn=9`)).status).toBe(200)
  })

  it('answers 400 to _HLS_part alone, to values that are not whole numbers, and to asks too far ahead', async () => {
    const { url } = await start()
    await put(`${url}/live/b.m3u8`, playlist(0, 2, 1))
    for (const query of [
      '_HLS_part=1',
      '_HLS_msn=x',
      '_HLS_msn=-1',
      '_HLS_msn=3&_HLS_part=1.5',
      // More than two segments past the last one.
      '_HLS_msn=5',
      // More than three parts past the last part listed.
      '_HLS_msn=3&_HLS_part=4',
    ]) {
      const res = await fetch(`${url}/live/b.m3u8?${query}`)
      expect(res.status, query).toBe(400)
      expect(await res.text(), query).toMatch(/_HLS_/)
    }
    // Other objects do not know these parameters.
    await put(`${url}/live/seg.ts`, 'segment')
    expect(await (await fetch(`${url}/live/seg.ts?_HLS_part=1`)).text()).toBe('segment')
  })

  it('answers 503 when no update brings it within three target durations', async () => {
    const { url } = await start()
    await put(`${url}/live/slow.m3u8`, playlist(0, 2, 0, 1))
    const started = Date.now()
    const res = await fetch(`${url}/live/slow.m3u8?_HLS_msn=3`)
    expect(res.status).toBe(503)
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900)
    expect(Date.now() - started).toBeLessThan(8000)
  })

  it('knows a playlist by its content type whatever its key, and after a restart', async () => {
    const dir = await tempDir('chunked-reload-restart-')
    const first = await listen(createChunkedServer({ root: dir.path }))
    await put(`${first.url}/live/index`, playlist(0, 1), {
      'content-type': 'application/vnd.apple.mpegurl',
    })
    await first.close()
    const { url } = await listen(createChunkedServer({ root: dir.path }))
    const reload = held(`${url}/live/index?_HLS_msn=2`)
    await pause(200)
    expect(reload.answered()).toBe(false)
    await put(`${url}/live/index`, playlist(0, 2), {
      'content-type': 'application/vnd.apple.mpegurl',
    })
    expect((await reload.response).body).toBe(playlist(0, 2))
  })

  it('releases held requests on DELETE (404) and on shutdown (503)', async () => {
    const { url, server } = await start()
    await put(`${url}/live/d.m3u8`, playlist(0, 2))
    const holding = () =>
      expect.poll(async () =>
        (await scrapeMetrics(`${url}/metrics`)).get('chunked_server_held_reloads'),
      )
    const deleted = held(`${url}/live/d.m3u8?_HLS_msn=3`)
    await holding().toBe(1)
    expect((await fetch(`${url}/live/d.m3u8`, { method: 'DELETE' })).status).toBe(204)
    expect((await deleted.response).status).toBe(404)

    await put(`${url}/live/d.m3u8`, playlist(0, 2))
    const shutdown = held(`${url}/live/d.m3u8?_HLS_msn=3`)
    await holding().toBe(1)
    const closed = new Promise((resolve) => server.close(resolve))
    const answer = await shutdown.response
    expect(answer.status).toBe(503)
    expect(answer.body).toContain('shutting down')
    if ('closeAllConnections' in server) server.closeAllConnections()
    await closed
  })

  it('counts held reloads and forgets those whose clients leave', async () => {
    const { url, port } = await start()
    await put(`${url}/live/m.m3u8`, playlist(0, 2))
    const requests = Array.from({ length: 200 }, () => {
      const req = request({ port, host: '127.0.0.1', path: '/live/m.m3u8?_HLS_msn=3' })
      req.on('error', () => {})
      req.end()
      return req
    })
    await expect
      .poll(async () => (await scrapeMetrics(`${url}/metrics`)).get('chunked_server_held_reloads'))
      .toBe(200)
    for (const req of requests) req.destroy()
    await expect
      .poll(async () => (await scrapeMetrics(`${url}/metrics`)).get('chunked_server_held_reloads'))
      .toBe(0)
    await put(`${url}/live/m.m3u8`, playlist(0, 3))
    const metrics = await scrapeMetrics(`${url}/metrics`)
    expect(metrics.get('chunked_server_gets_total{state="reload",prefix="/live"}')).toBeUndefined()
    expect((await fetch(`${url}/live/m.m3u8?_HLS_msn=3`)).status).toBe(200)
    expect(
      (await scrapeMetrics(`${url}/metrics`)).get(
        'chunked_server_gets_total{state="reload",prefix="/live"}',
      ),
    ).toBe(1)
  })

  it('holds a GET of a hinted part until its PUT starts and streams it; a hint that never comes is 404', async () => {
    const { url } = await start({ waitMs: 1000 })
    const hinted = fetch(`${url}/live/part9.2.m4s`)
    await pause(100)
    const upload = request(`${url}/live/part9.2.m4s`, {
      method: 'PUT',
      headers: { 'transfer-encoding': 'chunked' },
    })
    upload.on('error', () => {})
    upload.write('moof')
    const res = await hinted
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('video/mp4')
    upload.end('mdat')
    expect(await res.text()).toBe('moofmdat')
    const started = Date.now()
    const never = await fetch(`${url}/live/part9.3.m4s`)
    expect(never.status).toBe(404)
    // Its 1 s wait, not a playlist reload's hold of three target durations (3 s).
    expect(Date.now() - started).toBeLessThan(2_900)
  })
})

describe('playlist delta updates (_HLS_skip)', () => {
  /** An fMP4 LL-HLS playlist as packagers write it: map, dates on every segment, parts at the end. */
  const live = (first: number, last: number, skipUntil = 6) =>
    [
      '#EXTM3U',
      '#EXT-X-VERSION:6',
      '#EXT-X-TARGETDURATION:1',
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=${skipUntil},PART-HOLD-BACK=0.6`,
      '#EXT-X-PART-INF:PART-TARGET=0.2',
      `#EXT-X-MEDIA-SEQUENCE:${first}`,
      '#EXT-X-MAP:URI="init.mp4"',
      ...Array.from({ length: last - first + 1 }, (_, i) => [
        `#EXT-X-PROGRAM-DATE-TIME:2026-11-30T12:00:${String(first + i).padStart(2, '0')}.000Z`,
        '#EXTINF:1.00000,',
        `seg${first + i}.m4s`,
      ]).flat(),
      '#EXT-X-PART:DURATION=0.20000,URI="part0.m4s",INDEPENDENT=YES',
      '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part1.m4s"',
      '',
    ].join('\n')

  it('skips the segments older than CAN-SKIP-UNTIL, restating the map, and keeps the rest as it is', async () => {
    const { url } = await start()
    await put(`${url}/live/d.m3u8`, live(10, 21))
    const res = await fetch(`${url}/live/d.m3u8?_HLS_skip=YES`)
    expect(res.status).toBe(200)
    const body = await res.text()
    // 12 one-second segments, a 6 s boundary: the first six end at least 6 s before the end.
    const whole = live(10, 21).split('\n')
    const firstKept = whole.indexOf('#EXT-X-PROGRAM-DATE-TIME:2026-11-30T12:00:16.000Z')
    expect(body.split('\n')).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      ...whole.slice(2, 6),
      '#EXT-X-SKIP:SKIPPED-SEGMENTS=6',
      '#EXT-X-MAP:URI="init.mp4"',
      ...whole.slice(firstKept),
    ])
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)))
    const full = await fetch(`${url}/live/d.m3u8`)
    const fullTag = full.headers.get('etag')
    expect(await full.text()).toBe(live(10, 21))
    expect(res.headers.get('etag')).not.toBe(fullTag)
    // v2 asks for date ranges to be skipped too; there are none, so the same delta.
    expect(await (await fetch(`${url}/live/d.m3u8?_HLS_skip=v2`)).text()).toBe(body)
  })

  it('answers the whole playlist when it offers no delta or nothing is old enough, and 400 to a bad value', async () => {
    const { url } = await start()
    await put(`${url}/live/n.m3u8`, playlist(0, 20))
    expect(await (await fetch(`${url}/live/n.m3u8?_HLS_skip=YES`)).text()).toBe(playlist(0, 20))
    await put(`${url}/live/s.m3u8`, live(0, 5))
    expect(await (await fetch(`${url}/live/s.m3u8?_HLS_skip=YES`)).text()).toBe(live(0, 5))
    for (const value of ['NO', 'yes', '']) {
      const res = await fetch(`${url}/live/s.m3u8?_HLS_skip=${value}`)
      expect(res.status, value).toBe(400)
      expect(await res.text(), value).toContain('_HLS_skip must be YES or v2')
    }
    // On an object that is not a playlist the query means nothing.
    await put(`${url}/live/seg.ts`, 'media')
    expect(await (await fetch(`${url}/live/seg.ts?_HLS_skip=NO`)).text()).toBe('media')
  })

  it('never skips past a discontinuity, keeps date ranges, and combines with a blocking reload', async () => {
    const { url } = await start()
    const lines = live(0, 11).split('\n')
    const withBreak = [
      ...lines.slice(0, 7),
      '#EXT-X-DATERANGE:ID="ad",START-DATE="2026-11-30T12:00:01.000Z",DURATION=2',
      ...lines.slice(7, 13),
      '#EXT-X-DISCONTINUITY',
      ...lines.slice(13),
    ].join('\n')
    await put(`${url}/live/b.m3u8`, withBreak)
    const delta = (await (await fetch(`${url}/live/b.m3u8?_HLS_skip=YES`)).text()).split('\n')
    // Segments 0 and 1 go; segment 2 starts a discontinuity and stays, with everything after it.
    expect(delta.slice(6, 10)).toEqual([
      '#EXT-X-SKIP:SKIPPED-SEGMENTS=2',
      '#EXT-X-MAP:URI="init.mp4"',
      '#EXT-X-DATERANGE:ID="ad",START-DATE="2026-11-30T12:00:01.000Z",DURATION=2',
      '#EXT-X-DISCONTINUITY',
    ])
    expect(delta.slice(10)).toEqual(withBreak.split('\n').slice(15))

    await put(`${url}/live/d.m3u8`, live(0, 11))
    const reload = held(`${url}/live/d.m3u8?_HLS_msn=12&_HLS_skip=YES`)
    await pause(200)
    expect(reload.answered()).toBe(false)
    await put(`${url}/live/d.m3u8`, live(1, 12))
    const answer = await reload.response
    expect(answer.status).toBe(200)
    expect(answer.body).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n')
    expect(answer.body).toMatch(/seg12\.m4s\n/)
  })
})
