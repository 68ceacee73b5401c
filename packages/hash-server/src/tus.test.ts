import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { scrapeMetrics, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { startHashServer } from '../test/helpers.js'
import type { HashServerOptions } from './index.js'

const TUS = { 'Tus-Resumable': '1.0.0' }
const OCTETS = { ...TUS, 'Content-Type': 'application/offset+octet-stream' }
const b64 = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest('base64')
const hex = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest('hex')
const metadata = (entries: Record<string, string>) =>
  Object.entries(entries)
    .map(([key, value]) => `${key} ${Buffer.from(value).toString('base64')}`)
    .join(',')

async function start(
  options: Partial<HashServerOptions> & { expire?: number; maxUploads?: number; dir?: string } = {},
) {
  const { expire, maxUploads, dir: reused, ...rest } = options
  const dir = reused === undefined ? (await tempDir('hash-server-tus-')).path : reused
  await mkdir(join(dir, 'store'), { recursive: true })
  const server = await startHashServer({
    store: join(dir, 'store'),
    tus: {
      path: '/files/',
      directory: join(dir, 'tus'),
      ...(expire === undefined ? {} : { expire }),
      ...(maxUploads === undefined ? {} : { maxUploads }),
    },
    ...rest,
  })
  await server.server.handler.ready
  return { ...server, dir, tusDir: join(dir, 'tus') }
}

async function create(url: string, headers: Record<string, string>, body?: Buffer) {
  return fetch(`${url}/files/`, {
    method: 'POST',
    headers: { ...TUS, ...headers },
    ...(body ? { body } : {}),
  })
}

async function createUpload(url: string, headers: Record<string, string>): Promise<string> {
  const res = await create(url, headers)
  expect(res.status, await res.clone().text()).toBe(201)
  return new URL(res.headers.get('location') as string, url).href
}

function patch(upload: string, offset: number, body: Buffer, headers: Record<string, string> = {}) {
  return fetch(upload, {
    method: 'PATCH',
    headers: { ...OCTETS, 'Upload-Offset': String(offset), ...headers },
    body,
  })
}

const head = (upload: string) => fetch(upload, { method: 'HEAD', headers: TUS })

describe('tus 1.0 core and extensions', () => {
  it('answers OPTIONS with the version, extensions, checksum algorithms and size limit', async () => {
    const { url } = await start({ maxBodySize: 1 << 30 })
    const res = await fetch(`${url}/files/`, { method: 'OPTIONS' })
    expect(res.status).toBe(204)
    expect(res.headers.get('tus-version')).toBe('1.0.0')
    expect(res.headers.get('tus-resumable')).toBe('1.0.0')
    expect(res.headers.get('tus-extension')?.split(',')).toEqual([
      'creation',
      'creation-with-upload',
      'creation-defer-length',
      'termination',
      'expiration',
      'checksum',
    ])
    expect(res.headers.get('tus-checksum-algorithm')).toBe('sha1,md5,sha256')
    expect(res.headers.get('tus-max-size')).toBe(String(1 << 30))
  })

  it('creates, resumes with HEAD, appends with PATCH, then checks, stores and describes the upload', async () => {
    const { url } = await start({ algorithms: 'sha256,md5' })
    const data = randomBytes(3 * 1024 * 1024 + 11)
    const upload = await createUpload(url, {
      'Upload-Length': String(data.length),
      'Upload-Metadata': metadata({ filename: 'a b.bin', filetype: 'application/octet-stream' }),
    })
    expect(upload).toMatch(/\/files\/[0-9a-f]{32}$/)

    let res = await head(upload)
    expect(res.status).toBe(200)
    expect(res.headers.get('upload-offset')).toBe('0')
    expect(res.headers.get('upload-length')).toBe(String(data.length))
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('tus-resumable')).toBe('1.0.0')
    expect(Date.parse(res.headers.get('upload-expires') ?? '')).toBeGreaterThan(Date.now())
    expect(res.headers.get('upload-metadata')).toBe(
      metadata({ filename: 'a b.bin', filetype: 'application/octet-stream' }),
    )

    const cut = 1024 * 1024 + 3
    res = await patch(upload, 0, data.subarray(0, cut))
    expect(res.status).toBe(204)
    expect(res.headers.get('upload-offset')).toBe(String(cut))
    expect(res.headers.get('upload-expires')).not.toBeNull()

    // A PATCH at a stale offset is refused and changes nothing.
    res = await patch(upload, 0, data.subarray(0, 10))
    expect(res.status).toBe(409)
    expect(await res.text()).toContain(`offset (${cut})`)
    expect((await head(upload)).headers.get('upload-offset')).toBe(String(cut))

    res = await patch(upload, cut, data.subarray(cut))
    expect(res.status).toBe(204)
    expect(res.headers.get('upload-offset')).toBe(String(data.length))
    const repr = `sha-256=:${b64('sha256', data)}:, md5=:${b64('md5', data)}:`
    expect(res.headers.get('repr-digest')).toBe(repr)
    const location = `/sha256/${hex('sha256', data)}`
    expect(res.headers.get('content-location')).toBe(location)

    const stored = await fetch(`${url}${location}`)
    expect(stored.status).toBe(200)
    expect(Buffer.from(await stored.arrayBuffer()).equals(data)).toBe(true)
    res = await head(upload)
    expect([res.status, res.headers.get('upload-offset'), res.headers.get('repr-digest')]).toEqual([
      200,
      String(data.length),
      repr,
    ])
  })

  it('refuses requests without Tus-Resumable 1.0.0 (412 with Tus-Version)', async () => {
    const { url } = await start()
    for (const headers of [{}, { 'Tus-Resumable': '0.2.2' }]) {
      const res = await fetch(`${url}/files/`, {
        method: 'POST',
        headers: { 'Upload-Length': '1', ...headers },
      })
      expect(res.status).toBe(412)
      expect(res.headers.get('tus-version')).toBe('1.0.0')
      expect(await res.text()).toMatch(/Tus-Resumable/)
    }
  })

  it('answers malformed creations with 400 naming the header, and oversized ones with 413', async () => {
    const { url } = await start({ maxBodySize: 1000 })
    const cases: Array<[Record<string, string>, number, RegExp]> = [
      [{}, 400, /Upload-Length or Upload-Defer-Length/],
      [{ 'Upload-Length': '-1' }, 400, /Upload-Length/],
      [{ 'Upload-Length': '5', 'Upload-Defer-Length': '1' }, 400, /not both/],
      [{ 'Upload-Defer-Length': '2' }, 400, /Upload-Defer-Length/],
      [{ 'Upload-Length': '5', 'Upload-Metadata': 'name !!!' }, 400, /Upload-Metadata/],
      [{ 'Upload-Length': '5', 'Upload-Metadata': 'a YQ==,a Yg==' }, 400, /twice/],
      [{ 'Upload-Length': '5', 'Upload-Metadata': metadata({ algorithm: 'nope' }) }, 400, /nope/],
      [{ 'Upload-Length': '1001' }, 413, /1000/],
    ]
    for (const [headers, status, reason] of cases) {
      const res = await create(url, headers)
      expect([res.status, await res.text()], JSON.stringify(headers)).toEqual([
        status,
        expect.stringMatching(reason),
      ])
    }
  })

  it('answers PATCH with the wrong Content-Type 415, without Upload-Offset 400, unknown uploads 404', async () => {
    const { url } = await start()
    const upload = await createUpload(url, { 'Upload-Length': '4' })
    let res = await fetch(upload, {
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/octet-stream' },
      body: 'abcd',
    })
    expect(res.status).toBe(415)
    res = await fetch(upload, { method: 'PATCH', headers: OCTETS, body: 'abcd' })
    expect([res.status, await res.text()]).toEqual([400, expect.stringMatching(/Upload-Offset/)])
    for (const other of [
      `${url}/files/${'0'.repeat(32)}`,
      `${url}/files/x/y`,
      `${url}/files/abc`,
    ]) {
      expect((await head(other)).status).toBe(404)
    }
    expect((await head(upload)).headers.get('upload-offset')).toBe('0')
  })

  it('takes the length later (creation-defer-length) and refuses bytes past it', async () => {
    const { url } = await start()
    const data = randomBytes(5000)
    const upload = await createUpload(url, { 'Upload-Defer-Length': '1' })
    let res = await head(upload)
    expect(res.headers.get('upload-defer-length')).toBe('1')
    expect(res.headers.get('upload-length')).toBeNull()
    res = await patch(upload, 0, data.subarray(0, 3000))
    expect(res.status).toBe(204)
    res = await patch(upload, 3000, data.subarray(3000, 4000), { 'Upload-Length': '4500' })
    expect(res.status).toBe(204)
    expect((await head(upload)).headers.get('upload-length')).toBe('4500')
    res = await patch(upload, 4000, data.subarray(4000))
    expect([res.status, await res.text()]).toEqual([
      413,
      expect.stringMatching(/Upload-Length \(4500\)/),
    ])
    res = await patch(upload, 4000, data.subarray(4000, 4500), { 'Upload-Length': '4600' })
    expect(res.status).toBe(400)
    res = await patch(upload, 4000, data.subarray(4000, 4500))
    expect([res.status, res.headers.get('repr-digest')]).toEqual([
      204,
      `md5=:${b64('md5', data.subarray(0, 4500))}:`,
    ])
  })

  it('takes data with the creating POST (creation-with-upload)', async () => {
    const { url } = await start()
    const data = randomBytes(100_000)
    const res = await create(
      url,
      { 'Upload-Length': String(data.length), 'Content-Type': 'application/offset+octet-stream' },
      data.subarray(0, 60_000),
    )
    expect(res.status).toBe(201)
    expect(res.headers.get('upload-offset')).toBe('60000')
    const upload = new URL(res.headers.get('location') as string, url).href
    const done = await patch(upload, 60_000, data.subarray(60_000))
    expect(done.headers.get('repr-digest')).toBe(`md5=:${b64('md5', data)}:`)
    // A whole upload in the POST: complete and stored at once.
    const whole = await create(
      url,
      { 'Upload-Length': '3', 'Content-Type': 'application/offset+octet-stream' },
      Buffer.from('abc'),
    )
    expect([whole.status, whole.headers.get('content-location')]).toEqual([
      201,
      `/md5/${hex('md5', Buffer.from('abc'))}`,
    ])
  })

  it('keeps nothing of a PATCH whose Upload-Checksum or Content-Digest does not match (460)', async () => {
    const { url, tusDir } = await start({ algorithms: 'sha256' })
    const data = randomBytes(2 * 1024 * 1024)
    const upload = await createUpload(url, { 'Upload-Length': String(data.length) })
    const first = data.subarray(0, 1024 * 1024)
    let res = await patch(upload, 0, first, { 'Upload-Checksum': `sha1 ${b64('sha1', first)}` })
    expect(res.status).toBe(204)
    const second = data.subarray(1024 * 1024)
    const wrong = b64('sha256', Buffer.from('not this'))
    res = await patch(upload, first.length, second, { 'Upload-Checksum': `sha256 ${wrong}` })
    expect(res.status).toBe(460)
    expect(await res.text()).toMatch(
      new RegExp(`Upload-Checksum mismatch.*${wrong.replace(/[+/]/g, '.')}`),
    )
    expect((await head(upload)).headers.get('upload-offset')).toBe(String(first.length))
    const id = upload.split('/').pop() as string
    expect((await readFile(join(tusDir, `${id}.bin`))).length).toBe(first.length)
    res = await patch(upload, first.length, second, { 'Content-Digest': `md5=:${wrong}:` })
    expect([res.status, await res.text()]).toEqual([
      460,
      expect.stringMatching(/Content-Digest md5 mismatch/),
    ])
    res = await patch(upload, first.length, second, { 'Upload-Checksum': 'crc32 AAAA' })
    expect([res.status, await res.text()]).toEqual([
      400,
      expect.stringMatching(/crc32.*sha1, md5, sha256/),
    ])
    // The digest state was rolled back with the bytes: the right chunk completes a right digest.
    res = await patch(upload, first.length, second, {
      'Upload-Checksum': `md5 ${b64('md5', second)}`,
    })
    expect([res.status, res.headers.get('repr-digest')]).toEqual([
      204,
      `sha-256=:${b64('sha256', data)}:`,
    ])
  })

  it('terminates an upload whose bytes do not match the declared Repr-Digest: 460 with both, then 410', async () => {
    const { url, dir } = await start()
    const data = randomBytes(10_000)
    const declared = b64('sha256', Buffer.from('something else'))
    const upload = await createUpload(url, {
      'Upload-Length': String(data.length),
      'Repr-Digest': `sha-256=:${declared}:`,
    })
    const res = await patch(upload, 0, data)
    expect(res.status).toBe(460)
    const text = await res.text()
    expect(text).toContain(declared)
    expect(text).toContain(b64('sha256', data))
    expect((await head(upload)).status).toBe(410)
    expect((await patch(upload, data.length, Buffer.alloc(0))).status).toBe(410)
    expect(existsSync(join(dir, 'store', 'md5', hex('md5', data)))).toBe(false)
    // Declared in the metadata, matching: stored under the first algorithm.
    const good = await createUpload(url, {
      'Upload-Length': String(data.length),
      'Upload-Metadata': metadata({ 'repr-digest': `sha-256=:${b64('sha256', data)}:` }),
    })
    const ok = await patch(good, 0, data)
    expect([ok.status, ok.headers.get('repr-digest')]).toEqual([
      204,
      `md5=:${b64('md5', data)}:, sha-256=:${b64('sha256', data)}:`,
    ])
  })

  it('terminates with DELETE: 204, its bytes removed, then 410', async () => {
    const { url, tusDir } = await start()
    const upload = await createUpload(url, { 'Upload-Length': '100' })
    await patch(upload, 0, randomBytes(50))
    const id = upload.split('/').pop() as string
    expect(existsSync(join(tusDir, `${id}.bin`))).toBe(true)
    const res = await fetch(upload, { method: 'DELETE', headers: TUS })
    expect(res.status).toBe(204)
    expect(existsSync(join(tusDir, `${id}.bin`))).toBe(false)
    expect((await head(upload)).status).toBe(410)
    expect((await fetch(upload, { method: 'DELETE', headers: TUS })).status).toBe(410)
  })

  it('removes uploads untouched for longer than the expiry, bytes and all', async () => {
    const { url, tusDir } = await start({ expire: 300 })
    const upload = await createUpload(url, { 'Upload-Length': '100' })
    await patch(upload, 0, randomBytes(10))
    const until = Date.now() + 10_000
    while ((await head(upload)).status !== 404 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect((await head(upload)).status).toBe(404)
    // The upload is forgotten first (404 at once), then its files are removed.
    await expect
      .poll(async () => (await readdir(tusDir)).filter((name) => name !== '.tmp'), {
        timeout: 10_000,
      })
      .toEqual([])
  })

  it('refuses more uploads in progress than allowed with 503 and Retry-After', async () => {
    const { url } = await start({ maxUploads: 2 })
    await createUpload(url, { 'Upload-Length': '10' })
    const second = await createUpload(url, { 'Upload-Length': '10' })
    const res = await create(url, { 'Upload-Length': '10' })
    expect([res.status, res.headers.get('retry-after')]).toEqual([503, '5'])
    expect(await res.text()).toMatch(/2 uploads in progress/)
    // A finished upload no longer counts.
    await patch(second, 0, randomBytes(10))
    expect((await create(url, { 'Upload-Length': '10' })).status).toBe(201)
  })

  it('needs the bearer token for tus and for stored POSTs, when one is set', async () => {
    const { url } = await start({ token: 's3cret' })
    let res = await create(url, { 'Upload-Length': '1' })
    expect([
      res.status,
      res.headers.get('www-authenticate'),
      res.headers.get('tus-resumable'),
    ]).toEqual([401, 'Bearer realm="hash-server"', '1.0.0'])
    res = await fetch(`${url}/`, { method: 'POST', body: 'x' })
    expect(res.status).toBe(401)
    expect((await fetch(`${url}/files/`, { method: 'OPTIONS' })).status).toBe(204)
    res = await create(url, { 'Upload-Length': '1', Authorization: 'Bearer s3cret' })
    expect(res.status).toBe(201)
    res = await fetch(`${url}/`, {
      method: 'POST',
      body: 'x',
      headers: { Authorization: 'Bearer s3cret' },
    })
    expect(res.status).toBe(201)
    expect((await fetch(`${url}/health`)).status).toBe(200)
  })

  it('ends a PATCH still open when a HEAD arrives, keeping what it received, and counts the bytes', async () => {
    const { url, port, server } = await start()
    const upload = await createUpload(url, { 'Upload-Length': '1000000' })
    const path = new URL(upload).pathname
    const socket = connect(port, '127.0.0.1')
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    socket.on('error', () => {})
    const sent = randomBytes(300_000)
    socket.write(
      `PATCH ${path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n` +
        'Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n' +
        'Content-Length: 1000000\r\n\r\n',
    )
    socket.write(sent)
    // The server has taken every byte sent (its counter), the PATCH still waits for more.
    const until = Date.now() + 10_000
    while (Date.now() < until) {
      const metrics = await scrapeMetrics(`${url}/metrics`)
      if ((metrics.get('hash_server_hashed_bytes_total') ?? 0) >= sent.length) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const res = await head(upload)
    expect(res.headers.get('upload-offset')).toBe(String(sent.length))
    await closed
    const rest = randomBytes(1000000 - sent.length)
    const done = await patch(upload, sent.length, rest)
    expect(done.headers.get('repr-digest')).toBe(`md5=:${b64('md5', Buffer.concat([sent, rest]))}:`)
    expect(server.handler.tusUploads).toBe(0)
  })

  it('keeps what a restart finds: finished uploads with their digests, unfinished ones with their bytes and expiry', async () => {
    // Scaled so that the restarted server has seconds, not a moment, before the unfinished
    // upload's expiry (counted from its data file's last write) on a loaded machine.
    const first = await start({ expire: 8_000 })
    const { dir, url } = first
    const whole = randomBytes(70_000)
    const finished = await createUpload(url, { 'Upload-Length': String(whole.length) })
    const data = randomBytes(2_000_000)
    const unfinished = await createUpload(url, { 'Upload-Length': String(data.length) })
    const createdAt = Date.now()
    // Touched after its record was written: the data file's time counts at the next start.
    await new Promise((resolve) => setTimeout(resolve, 4_000))
    await patch(unfinished, 0, data.subarray(0, 1_000_000))
    await patch(finished, 0, whole)
    await first.close()
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, createdAt + 8_300 - Date.now())))

    const second = await start({ expire: 8_000, dir })
    const at = (upload: string) => new URL(new URL(upload).pathname, second.url).href
    let res = await head(at(finished))
    expect([res.status, res.headers.get('upload-offset'), res.headers.get('repr-digest')]).toEqual([
      200,
      String(whole.length),
      `md5=:${b64('md5', whole)}:`,
    ])
    res = await head(at(unfinished))
    expect([res.status, res.headers.get('upload-offset')]).toEqual([200, '1000000'])
    res = await patch(at(unfinished), 1_000_000, data.subarray(1_000_000))
    expect(res.headers.get('repr-digest')).toBe(`md5=:${b64('md5', data)}:`)
  })

  it('goes on serving when a PATCH breaks off while a restarted upload reads its bytes back', async () => {
    const first = await start()
    const MiB = 1024 * 1024
    const data = randomBytes(64 * MiB)
    const kept = 32 * MiB
    const upload = await createUpload(first.url, { 'Upload-Length': String(data.length) })
    expect((await patch(upload, 0, data.subarray(0, kept))).status).toBe(204)
    await first.close()
    const second = await start({ dir: first.dir })
    const at = new URL(new URL(upload).pathname, second.url).href
    // The connection ends right after the PATCH's first bytes, while the server is still reading
    // the 32 MiB kept before the restart back into the upload's digest state.
    const socket = connect(second.port, '127.0.0.1')
    socket.on('error', () => {})
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    const sent = data.subarray(kept, kept + 1000)
    socket.write(
      `PATCH ${new URL(at).pathname} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n` +
        `Content-Type: application/offset+octet-stream\r\nUpload-Offset: ${kept}\r\n` +
        `Content-Length: ${data.length - kept}\r\n\r\n`,
    )
    socket.write(sent, () => socket.destroy())
    await closed
    const res = await head(at)
    expect(res.status).toBe(200)
    const offset = Number(res.headers.get('upload-offset'))
    expect(offset).toBeGreaterThanOrEqual(kept)
    expect(offset).toBeLessThanOrEqual(kept + sent.length)
    const done = await patch(at, offset, data.subarray(offset))
    expect(done.status).toBe(204)
    expect(done.headers.get('repr-digest')).toBe(`md5=:${b64('md5', data)}:`)
  })

  it('lets each new request end the one holding the upload, keeping what it received', async () => {
    const { url, port } = await start()
    const upload = await createUpload(url, { 'Upload-Length': '1000000' })
    const path = new URL(upload).pathname
    const sockets: Array<ReturnType<typeof connect>> = []
    const openPatch = (offset: number, bytes: Buffer) => {
      const socket = connect(port, '127.0.0.1')
      socket.on('error', () => {})
      sockets.push(socket)
      socket.write(
        `PATCH ${path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n` +
          `Content-Type: application/offset+octet-stream\r\nUpload-Offset: ${offset}\r\n` +
          `Content-Length: ${1000000 - offset}\r\n\r\n`,
      )
      socket.write(bytes)
      return new Promise<void>((resolve) => socket.on('close', () => resolve()))
    }
    const hashed = async (bytes: number) => {
      await expect
        .poll(async () =>
          (await scrapeMetrics(`${url}/metrics`)).get('hash_server_hashed_bytes_total'),
        )
        .toBe(bytes)
    }
    const a = openPatch(0, randomBytes(100_000))
    await hashed(100_000)
    // B, a PATCH that will hang too, ends A and takes the upload; C, a HEAD, ends B in turn.
    const b = openPatch(100_000, randomBytes(50_000))
    await a
    await hashed(150_000)
    const res = await head(upload)
    expect([res.status, res.headers.get('upload-offset')]).toEqual([200, '150000'])
    await b
    // DELETE ends a PATCH still open too.
    const offset = Number((await head(upload)).headers.get('upload-offset'))
    const d = openPatch(offset, randomBytes(10_000))
    await hashed(offset + 10_000)
    expect((await fetch(upload, { method: 'DELETE', headers: TUS })).status).toBe(204)
    await d
    expect((await head(upload)).status).toBe(410)
    for (const socket of sockets) socket.destroy()
  })

  it('keeps nothing of a checksummed PATCH cut in the middle', async () => {
    const { url, port, tusDir } = await start()
    const upload = await createUpload(url, { 'Upload-Length': '500000' })
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    const body = randomBytes(500_000)
    socket.write(
      `PATCH ${new URL(upload).pathname} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n` +
        'Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n' +
        `Upload-Checksum: sha1 ${b64('sha1', body)}\r\nContent-Length: 500000\r\n\r\n`,
    )
    socket.write(body.subarray(0, 200_000))
    await expect
      .poll(async () =>
        (await scrapeMetrics(`${url}/metrics`)).get('hash_server_hashed_bytes_total'),
      )
      .toBe(200_000)
    socket.destroy()
    await expect.poll(async () => (await head(upload)).headers.get('upload-offset')).toBe('0')
    const id = new URL(upload).pathname.split('/').pop()
    expect((await readFile(join(tusDir, `${id}.bin`))).length).toBe(0)
    const done = await patch(upload, 0, body, { 'Upload-Checksum': `sha1 ${b64('sha1', body)}` })
    expect(done.headers.get('repr-digest')).toBe(`md5=:${b64('md5', body)}:`)
  })

  it('completes an empty upload at creation, answers PATCHes on a finished one, and leaves nothing of a refused creation', async () => {
    const { url, tusDir } = await start()
    const empty = await create(url, { 'Upload-Length': '0' })
    expect([
      empty.status,
      empty.headers.get('upload-offset'),
      empty.headers.get('repr-digest'),
    ]).toEqual([201, '0', `md5=:${b64('md5', Buffer.alloc(0))}:`])
    const upload = new URL(empty.headers.get('location') as string, url).href
    expect((await patch(upload, 0, Buffer.alloc(0))).status).toBe(204)
    const more = await patch(upload, 0, Buffer.from('x'))
    expect(more.status).toBe(413)
    const before = await readdir(tusDir)
    const refused = await create(
      url,
      {
        'Upload-Length': '3',
        'Content-Type': 'application/offset+octet-stream',
        'Upload-Checksum': `md5 ${b64('md5', Buffer.from('xyz'))}`,
      },
      Buffer.from('abc'),
    )
    expect([refused.status, refused.headers.get('location')]).toEqual([460, null])
    expect(await readdir(tusDir)).toEqual(before)
  })
})
