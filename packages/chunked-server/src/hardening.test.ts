import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  checkAbortedRequests,
  cutConnection,
  listen,
  missingSmallDisk,
  missingTool,
  onSmallDisk,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from '@sluice/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawUpload } from '../test/raw-upload.js'
import { type ChunkedServerOptions, createChunkedServer } from './index.js'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

async function start(options: Partial<ChunkedServerOptions> = {}) {
  const dir = await tempDir('chunked-hard-')
  const root = join(dir.path, 'root')
  const server = createChunkedServer({ root, ...options })
  await server.handler.ready
  const listening = await listen(server)
  return { ...listening, root, outside: dir.path }
}

/** Sends raw bytes, optionally half-closing, and resolves with everything the server sent. */
async function exchange(
  port: number,
  request: string | Buffer,
  halfClose = false,
): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  let answer = ''
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString('latin1')
  })
  if (halfClose) socket.end(request)
  else socket.write(request)
  await once(socket, 'close')
  return answer
}

const put = (key: string, body: string) =>
  `PUT ${key} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`

describe('malformed chunked uploads', () => {
  it('answer 400 with the reason and free the key at once: no 409, no hang, no leftover', async () => {
    const { url, port, root } = await start()
    for (const [what, body] of [
      ['a chunk longer than its size', '3\r\nhello\r\n0\r\n\r\n'],
      ['no CRLF after the data', '5\r\nhelloXX0\r\n\r\n'],
      ['a bad size after a good chunk', '5\r\nhello\r\nzz\r\n'],
      ['LF-only lines', '5\nhello\n0\n\n'],
      ['a trailer without a colon', '5\r\nhello\r\n0\r\nbroken trailer\r\n\r\n'],
    ] as const) {
      const answer = await exchange(port, put('/seg.ts', body))
      expect(answer, what).toMatch(/^HTTP\/1.1 400 Bad Request/)
      expect(answer).toMatch(/malformed HTTP request: .+\(HPE_/)
      // The key is free: a GET says there is nothing (no hang on a phantom upload), a PUT works.
      expect((await fetch(`${url}/seg.ts`)).status, what).toBe(404)
      const again = await fetch(`${url}/seg.ts`, { method: 'PUT', body: 'good' })
      expect(again.status, what).toBe(201)
      expect(await (await fetch(`${url}/seg.ts`)).text()).toBe('good')
      expect((await fetch(`${url}/seg.ts`, { method: 'DELETE' })).status).toBe(204)
    }
    await expect.poll(() => readdir(join(root, '.partial'))).toEqual([])
  })
})

describe('clients that half-close after their upload', () => {
  it('store the object and end its live readers cleanly (ffmpeg without -http_persistent)', async () => {
    const { url, port } = await start()
    const body = randomBytes(300_000)
    const chunked = Buffer.concat([
      Buffer.from(`${body.length.toString(16)}\r\n`),
      body,
      Buffer.from('\r\n0\r\n\r\n'),
    ])
    const head =
      'PUT /live/a.ts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n'
    const answer = await exchange(port, Buffer.concat([Buffer.from(head), chunked]), true)
    expect(answer).toMatch(/^HTTP\/1.1 201 Created/)
    const stored = await fetch(`${url}/live/a.ts`)
    expect(stored.headers.get('content-length')).toBe(String(body.length))
    expect(sha256(Buffer.from(await stored.arrayBuffer()))).toBe(sha256(body))
    const sized = await exchange(
      port,
      `PUT /live/b.ts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello`,
      true,
    )
    expect(sized).toMatch(/^HTTP\/1.1 201 Created/)
  })

  it("take ffmpeg's HLS muxer with its default PUT: every object complete and decodable", async (context) => {
    const reason = missingTool('ffmpeg', ['-version'])
    if (reason) return context.skip(reason)
    const { url } = await start()
    const run = await runCli(
      'ffmpeg',
      [
        ...['-hide_banner', '-loglevel', 'error', '-nostdin'],
        ...['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=4'],
        ...['-f', 'lavfi', '-i', 'sine=frequency=440:duration=4'],
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'aac'],
        ...['-f', 'hls', '-hls_time', '1', '-hls_list_size', '0', '-method', 'PUT'],
        `${url}/live/stream.m3u8`,
      ],
      { timeoutMs: 60_000 },
    )
    expect(run.code, run.stderr).toBe(0)
    // ffmpeg does not wait for the answer to its last PUT (the playlist with EXT-X-ENDLIST) before
    // it exits: the origin may still be storing it.
    await expect
      .poll(async () => (await fetch(`${url}/live/stream.m3u8`)).text())
      .toContain('#EXT-X-ENDLIST')
    const playlist = await fetch(`${url}/live/stream.m3u8`)
    expect(playlist.status).toBe(200)
    // ffmpeg sends no Content-Type: the origin infers what players expect.
    expect(playlist.headers.get('content-type')).toBe('application/vnd.apple.mpegurl')
    const text = await playlist.text()
    const segments = text.split('\n').filter((line) => line.endsWith('.ts'))
    expect(segments.length).toBeGreaterThanOrEqual(3)
    for (const segment of segments) {
      // Finished, not stuck "uploading": a static answer with its length (the last segment's PUT
      // may still be being stored when the playlist that lists it is).
      const head = () => fetch(`${url}/live/${segment}`, { method: 'HEAD' })
      await expect
        .poll(async () => Number((await head()).headers.get('content-length')))
        .toBeGreaterThan(0)
      const finished = await head()
      expect(finished.status, segment).toBe(200)
      expect(finished.headers.get('content-type')).toBe('video/mp2t')
    }
    const decoded = await runCli(
      'ffmpeg',
      ['-v', 'error', '-nostdin', '-i', `${url}/live/stream.m3u8`, '-f', 'null', '-'],
      { timeoutMs: 60_000 },
    )
    expect(decoded.code).toBe(0)
    expect(decoded.stderr).toBe('')
  })

  it("take 30 runs of ffmpeg's HLS muxer in a row: every playlist whole, no PUT refused", {
    timeout: 300_000,
  }, async (context) => {
    const reason = missingTool('ffmpeg', ['-version'])
    if (reason) return context.skip(reason)
    const dir = await tempDir('chunked-ffmpeg-runs-')
    const log = join(dir.path, 'access.log')
    const { url } = await start({ accessLog: log })
    for (let run = 0; run < 30; run++) {
      const result = await runCli(
        'ffmpeg',
        [
          ...['-hide_banner', '-loglevel', 'error', '-nostdin'],
          ...['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=25:duration=3'],
          ...['-f', 'lavfi', '-i', 'sine=frequency=440:duration=3'],
          ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'aac'],
          ...['-f', 'hls', '-hls_time', '1', '-hls_list_size', '0', '-method', 'PUT'],
          `${url}/r${run}/stream.m3u8`,
        ],
        { timeoutMs: 60_000 },
      )
      expect(result.code, result.stderr).toBe(0)
      await expect
        .poll(async () => (await fetch(`${url}/r${run}/stream.m3u8`)).text())
        .toContain('#EXT-X-ENDLIST')
    }
    // Every answer is logged once it is sent, in order: the last run's last PUTs may still be on
    // the way when its ffmpeg has exited. Once they are all there, so is every earlier entry.
    const entries = async () =>
      (await readFile(log, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { method: string; path: string; status: number })
    const segmentsPut = (logged: Awaited<ReturnType<typeof entries>>, run: number) =>
      logged
        .filter((entry) => entry.method === 'PUT' && entry.path.startsWith(`/r${run}/`))
        .filter((entry) => entry.path.endsWith('.ts'))
        .map((entry) => entry.path.slice(`/r${run}/`.length))
    const listedIn = async (run: number) =>
      (await (await fetch(`${url}/r${run}/stream.m3u8`)).text())
        .split('\n')
        .filter((line) => line.endsWith('.ts'))
    const lastListed = new Set(await listedIn(29))
    await expect.poll(async () => new Set(segmentsPut(await entries(), 29))).toEqual(lastListed)
    const logged = await entries()
    const puts = logged.filter((entry) => entry.method === 'PUT')
    expect(puts.filter((entry) => entry.status !== 201)).toEqual([])
    for (let run = 0; run < 30; run++) {
      const listed = await listedIn(run)
      const uploaded = segmentsPut(logged, run)
      expect(listed.length, `run ${run}`).toBeGreaterThanOrEqual(3)
      expect(new Set(listed), `run ${run}`).toEqual(new Set(uploaded))
    }
  })
})

describe('strict requests', () => {
  it('refuses raw dot segments and over-long names, and answers 501 to other transfer codings', async () => {
    const { url, port } = await start()
    for (const path of ['/a/../b.ts', '/./b.ts', '/a/%2e%2e/b.ts']) {
      const answer = await exchange(
        port,
        `PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`,
      )
      expect(answer, path).toMatch(/^HTTP\/1.1 400 /)
      expect(answer).toContain(`not an object key: ${path}`)
    }
    expect((await fetch(`${url}/b.ts`)).status).toBe(404)
    const long = 'n'.repeat(251)
    expect((await fetch(`${url}/${long}`, { method: 'PUT', body: 'x' })).status).toBe(400)
    expect((await fetch(`${url}/${long}`)).status).toBe(404)
    expect((await fetch(`${url}/${'n'.repeat(250)}`, { method: 'PUT', body: 'x' })).status).toBe(
      201,
    )
    const gzip = await exchange(
      port,
      'PUT /z.ts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n',
    )
    expect(gzip).toMatch(/^HTTP\/1.1 501 Not Implemented/)
  })

  it('closes connections whose headers do not arrive in time with 408', async () => {
    const { port } = await start({ headersTimeout: 500 })
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => exchange(port, 'GET /a.ts HTTP/1.1\r\nHost: x\r\n')),
    )
    for (const answer of answers) expect(answer).toMatch(/^HTTP\/1.1 408 Request Timeout/)
  })

  it('honours If-Range and If-Modified-Since on finished objects', async () => {
    const { url } = await start()
    await fetch(`${url}/o.ts`, { method: 'PUT', body: '0123456789' })
    const first = await fetch(`${url}/o.ts`)
    const modified = first.headers.get('last-modified') ?? ''
    await first.arrayBuffer()
    const stale = await fetch(`${url}/o.ts`, {
      headers: { range: 'bytes=5-', 'if-range': '"old"' },
    })
    expect([stale.status, await stale.text()]).toEqual([200, '0123456789'])
    expect(
      (await fetch(`${url}/o.ts`, { headers: { 'if-modified-since': modified } })).status,
    ).toBe(304)
  })
})

describe('symbolic links in the data directory are never followed', () => {
  it('refuses PUT, GET and DELETE through links, writing nothing outside the root', async () => {
    const { url, root, outside } = await start()
    await writeFile(join(outside, 'target.ts'), 'outside')
    await mkdir(join(outside, 'elsewhere'))
    await symlink(join(outside, 'elsewhere'), join(root, 'dir'))
    await symlink(join(outside, 'target.ts'), join(root, 'file.ts'))
    // A finished object whose data file was replaced by a link.
    await fetch(`${url}/replaced.ts`, { method: 'PUT', body: 'mine' })
    await (await import('node:fs/promises')).rm(join(root, 'replaced.ts'))
    await symlink(join(outside, 'target.ts'), join(root, 'replaced.ts'))
    for (const key of ['/dir/new.ts', '/file.ts']) {
      expect((await fetch(`${url}${key}`, { method: 'PUT', body: 'stolen' })).status, key).toBe(403)
    }
    const replaced = await fetch(`${url}/replaced.ts`)
    expect(replaced.status).toBe(403)
    expect(await replaced.text()).not.toContain('outside')
    expect((await fetch(`${url}/dir/new.ts`)).status).toBe(404)
    expect((await fetch(`${url}/replaced.ts`, { method: 'DELETE' })).status).toBe(204)
    expect(await readFile(join(outside, 'target.ts'), 'utf8')).toBe('outside')
    expect(await readdir(join(outside, 'elsewhere'))).toEqual([])
  })
})

describe('storage failures', () => {
  it('answer 507 with the reason on a full disk, and readers end abnormally', async (context) => {
    const reason = missingSmallDisk()
    if (reason) return context.skip(reason)
    const dir = await tempDir('chunked-full-')
    const [command, args] = onSmallDisk(dir.path, 512 * 1024, process.execPath, [
      BIN,
      '-i',
      '0',
      '-p',
      dir.path,
    ])
    const server = await startServerProcess(command, args)
    const full = await fetch(`${server.url}/big.ts`, {
      method: 'PUT',
      body: randomBytes(2_000_000),
    })
    expect(full.status).toBe(507)
    expect(await full.text()).toContain("no space left on the server's storage")
    expect((await fetch(`${server.url}/big.ts`)).status).toBe(404)
    // Space is free again (the partial upload is gone): a small object fits.
    expect((await fetch(`${server.url}/small.ts`, { method: 'PUT', body: 'fits' })).status).toBe(
      201,
    )
  })

  it('refuse to start, with one line, when the data directory is a file', async () => {
    const dir = await tempDir('chunked-cli-')
    const file = join(dir.path, 'file')
    await writeFile(file, 'x')
    const result = await runCli(process.execPath, [BIN, '-i', '0', '-p', file], {
      timeoutMs: 20_000,
    })
    expect(result.code).toBe(1)
    const lines = result.stderr.trim().split('\n')
    expect(lines, result.stderr).toHaveLength(1)
    expect(lines[0]).toMatch(new RegExp(`^chunked-server: cannot start: --path ${file} `))
    expect(lines[0]).toMatch(/not a directory|exists and is not a directory/)
  })
})

describe('1,000 aborted requests of each kind', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let server: ServerProcess
  let port: number
  beforeAll(async () => {
    dir = await tempDir('chunked-aborts-')
    server = await startServerProcess(process.execPath, [
      // A leak of even a few hundred bytes per request would exhaust this heap.
      '--max-old-space-size=64',
      BIN,
      '-i',
      '0',
      '-p',
      dir.path,
      '-w',
      '5000',
    ])
    port = Number(new URL(server.url).port)
    await fetch(`${server.url}/static.ts`, { method: 'PUT', body: randomBytes(4 * 1024 * 1024) })
    const playlist = '#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1,\na.ts\n'
    await fetch(`${server.url}/live/held.m3u8`, { method: 'PUT', body: playlist })
  })
  afterAll(async () => {
    await server.stop()
    await dir.remove()
  })

  const cut = (request: string, afterAnswer = false) =>
    cutConnection(port, request, { afterAnswer })

  const kinds: ReadonlyArray<(i: number) => Promise<void>> = [
    (i) => cut(put(`/cut/${i}.ts`, `10000\r\n${'x'.repeat(1000)}`)),
    (i) => cut(put(`/bad/${i}.ts`, '3\r\nhello\r\n'), true),
    (i) => cut(`PUT /sized/${i}.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc`),
    () => cut('GET /static.ts HTTP/1.1\r\nHost: x\r\n\r\n', true),
    // Waits for an object that never comes (wait-for-content), then gone.
    (i) => cut(`GET /never/${i}.ts HTTP/1.1\r\nHost: x\r\n\r\n`),
    // A blocking playlist reload held for an update that does not come, then gone.
    () => cut('GET /live/held.m3u8?_HLS_msn=1 HTTP/1.1\r\nHost: x\r\n\r\n'),
    () => cut('PUT /slow.ts HTTP/1.1\r\nHost: x\r\nTransfer-'),
  ]

  it('leave no descriptor, partial file or memory behind', { timeout: 180_000 }, async () => {
    await checkAbortedRequests([server.child.pid ?? 0], kinds)
    await expect.poll(() => readdir(join(dir.path, '.partial')), { timeout: 10_000 }).toEqual([])
    const after = await fetch(`${server.url}/cut/1.ts`, { method: 'PUT', body: 'whole' })
    expect(after.status).toBe(201)
  })
})

describe('1,000 overlapping uploads of one key', () => {
  it.each([
    ['disk', []],
    ['memory (-r)', ['-r', '--memory-budget', '16M']],
  ])(
    'leave no partial file, descriptor or memory behind (%s)',
    { timeout: 180_000 },
    async (_, flags) => {
      const dir = await tempDir('chunked-overlaps-')
      const server = await startServerProcess(process.execPath, [
        '--max-old-space-size=64',
        BIN,
        ...['-i', '0', '-p', dir.path],
        ...flags,
      ])
      const port = Number(new URL(server.url).port)
      // Two uploads of one key, the second started while the first is arriving, ending in either
      // order: both are answered 201, and the one that started last is stored.
      const pair = async (i: number) => {
        const first = rawUpload(port, '/same.ts')
        await first.write(`first ${i} `)
        const second = rawUpload(port, '/same.ts')
        await second.write(`second ${i} `)
        const ends = i % 2 === 0 ? [first, second] : [second, first]
        for (const upload of ends) expect((await upload.finish()).status).toBe(201)
      }
      await checkAbortedRequests([server.child.pid ?? 0], [pair])
      expect(await (await fetch(`${server.url}/same.ts`)).text()).toMatch(/^second \d+ $/)
      if (flags.length === 0) expect(await readdir(join(dir.path, '.partial'))).toEqual([])
      await server.stop()
      await dir.remove()
    },
  )
})
