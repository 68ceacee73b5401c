import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import {
  cleanUpAfterTest,
  type PayloadFile,
  payloadFile,
  scrapeMetrics,
  tempDir,
} from '@sluice/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { multipartRequest, rawExchange, startHashServer } from '../test/helpers.js'

const b64 = (algorithm: string, data: string | Buffer) =>
  createHash(algorithm).update(data).digest('base64')
const hex = (algorithm: string, data: string | Buffer) =>
  createHash(algorithm).update(data).digest('hex')

let dir: Awaited<ReturnType<typeof tempDir>>
let file: PayloadFile

beforeAll(async () => {
  dir = await tempDir('hash-server-test-')
  file = await payloadFile(join(dir.path, 'payload.bin'), 5 * 1024 * 1024 + 7)
})
afterAll(async () => {
  await dir.remove()
})

async function start(options: Parameters<typeof startHashServer>[0] = {}) {
  const server = await startHashServer(options)
  return server
}

function fileBody(): ReadableStream<Uint8Array> {
  return Readable.toWeb(createReadStream(file.path)) as ReadableStream<Uint8Array>
}

describe('digests of plain bodies', () => {
  it('answers the hex MD5 of a streamed body as text/plain, like the seed server', async () => {
    const { url } = await start()
    const res = await fetch(`${url}/any/path`, { method: 'POST', body: await readFile(file.path) })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await res.text()).toBe(`${file.md5}\n`)
  })

  it('hashes a chunked body of unknown length sent with PUT', async () => {
    const { url } = await start()
    const res = await fetch(`${url}/`, { method: 'PUT', body: fileBody(), duplex: 'half' })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(`${file.md5}\n`)
  })

  it('answers JSON with size and every requested algorithm', async () => {
    const { url } = await start()
    const res = await fetch(`${url}/?algorithm=sha256,md5&algorithm=sha3-256`, {
      method: 'POST',
      headers: { accept: 'application/json' },
      body: fileBody(),
      duplex: 'half',
    })
    expect(res.status).toBe(200)
    const bytes = await readFile(file.path)
    expect(await res.json()).toEqual({
      size: file.size,
      digests: { sha256: file.sha256, md5: file.md5, 'sha3-256': hex('sha3-256', bytes) },
    })
  })

  it('hashes an empty body', async () => {
    const { url } = await start({ algorithms: 'sha256' })
    const res = await fetch(url, { method: 'POST', body: '' })
    expect(await res.text()).toBe(`${hex('sha256', '')}\n`)
  })

  it('rejects an unknown algorithm with 400 listing the supported ones', async () => {
    const { url } = await start()
    const res = await fetch(`${url}/?algorithm=md5,md7`, { method: 'POST', body: 'x' })
    expect(res.status).toBe(400)
    const text = await res.text()
    expect(text).toContain('unsupported hash algorithm "md7"')
    expect(text).toContain('sha256')
    const json = await fetch(`${url}/?algorithm=nope`, {
      method: 'POST',
      headers: { accept: 'application/json' },
      body: 'x',
    })
    expect(((await json.json()) as { error: { code: string } }).error.code).toBe(
      'HASH_ERR_UNSUPPORTED_ALGORITHM',
    )
  })

  it('answers 405 to GET of a non-special path', async () => {
    const { url } = await start()
    const res = await fetch(`${url}/file`)
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('POST, PUT')
  })
})

describe('RFC 9530 and Content-MD5', () => {
  it('accepts matching Content-MD5, Content-Digest and Repr-Digest', async () => {
    const { url } = await start()
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-md5': b64('md5', 'hello'),
        'content-digest': `sha-256=:${b64('sha256', 'hello')}:, unknown-alg=:AAAA:`,
        'repr-digest': `sha-512=:${b64('sha512', 'hello')}:`,
      },
      body: 'hello',
    })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(`${hex('md5', 'hello')}\n`)
  })

  it('rejects a Content-Digest mismatch with 400 naming both values', async () => {
    const { url } = await start()
    const sent = b64('sha256', 'other')
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-digest': `sha-256=:${sent}:`, accept: 'application/json' },
      body: 'hello',
    })
    expect(res.status).toBe(400)
    const { error } = (await res.json()) as { error: { code: string; message: string } }
    expect(error.code).toBe('HASH_ERR_DIGEST_MISMATCH')
    expect(error.message).toContain(sent)
    expect(error.message).toContain(b64('sha256', 'hello'))
  })

  it('rejects a Content-MD5 mismatch and a Repr-Digest mismatch', async () => {
    const { url } = await start()
    const md5 = await fetch(url, {
      method: 'POST',
      headers: { 'content-md5': b64('md5', 'x') },
      body: 'hello',
    })
    expect(md5.status).toBe(400)
    expect(await md5.text()).toContain(`Content-MD5 mismatch: the request says ${b64('md5', 'x')}`)
    const repr = await fetch(url, {
      method: 'POST',
      headers: { 'repr-digest': `sha-256=:${b64('sha256', 'x')}:` },
      body: 'hello',
    })
    expect(repr.status).toBe(400)
    expect(await repr.text()).toContain('repr-digest sha-256 mismatch')
  })

  it('rejects malformed digest headers with 400', async () => {
    const { url } = await start()
    for (const headers of [
      { 'content-digest': 'sha-256=abc' },
      { 'content-md5': 'not base64!' },
      { 'want-content-digest': 'sha-256=11' },
    ]) {
      const res = await fetch(url, { method: 'POST', headers, body: 'hello' })
      expect(res.status).toBe(400)
      expect(await res.text()).toMatch(/^malformed/)
    }
  })

  it('answers Want-Content-Digest / Want-Repr-Digest with digests of the response content', async () => {
    const { url } = await start()
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'want-content-digest': 'sha-256=10, md5=0', 'want-repr-digest': 'sha-512=3' },
      body: 'hello',
    })
    const content = await res.text()
    expect(res.headers.get('content-digest')).toBe(`sha-256=:${b64('sha256', content)}:`)
    expect(res.headers.get('repr-digest')).toBe(`sha-512=:${b64('sha512', content)}:`)
  })
})

describe('multipart/form-data', () => {
  it('answers every part (fields and files) of one body, in JSON and md5sum-style text', async () => {
    const { url } = await start()
    const form = new FormData()
    form.append('title', 'two files')
    form.append('file', new Blob([await readFile(file.path)]), 'payload.bin')
    form.append('empty', new Blob([]), 'empty.txt')
    form.append('odd', new Blob(['odd']), 'we"ird\nname.txt')
    const res = await fetch(`${url}/?algorithm=md5,sha256`, {
      method: 'POST',
      headers: { accept: 'application/json' },
      body: form,
    })
    expect(res.status).toBe(200)
    const answer = (await res.json()) as { size: number; parts: Array<Record<string, unknown>> }
    expect(answer.parts).toEqual([
      {
        name: 'title',
        filename: null,
        contentType: null,
        size: 9,
        digests: { md5: hex('md5', 'two files'), sha256: hex('sha256', 'two files') },
      },
      {
        name: 'file',
        filename: 'payload.bin',
        contentType: 'application/octet-stream',
        size: file.size,
        digests: { md5: file.md5, sha256: file.sha256 },
      },
      {
        name: 'empty',
        filename: 'empty.txt',
        contentType: 'application/octet-stream',
        size: 0,
        digests: { md5: hex('md5', ''), sha256: hex('sha256', '') },
      },
      {
        name: 'odd',
        filename: 'we%22ird%0Aname.txt',
        contentType: 'application/octet-stream',
        size: 3,
        digests: { md5: hex('md5', 'odd'), sha256: hex('sha256', 'odd') },
      },
    ])
    expect(answer.size).toBeGreaterThan(file.size)

    const text = await fetch(url, { method: 'POST', body: form })
    expect(await text.text()).toBe(
      `${hex('md5', 'two files')}  title\n${file.md5}  payload.bin\n${hex('md5', '')}  empty.txt\n${hex('md5', 'odd')}  we%22ird%0Aname.txt\n`,
    )
  })

  it('verifies a Content-Digest of the whole multipart body', async () => {
    const { url } = await start()
    const body = `--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nhello\r\n--b--\r\n`
    const headers = { 'content-type': 'multipart/form-data; boundary=b' }
    const ok = await fetch(url, {
      method: 'POST',
      headers: { ...headers, 'content-digest': `sha-256=:${b64('sha256', body)}:` },
      body,
    })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toBe(`${hex('md5', 'hello')}  a\n`)
    const bad = await fetch(url, {
      method: 'POST',
      headers: { ...headers, 'content-digest': `sha-256=:${b64('sha256', 'x')}:` },
      body,
    })
    expect(bad.status).toBe(400)
  })

  const malformed: Array<[string, string, string, RegExp]> = [
    [
      'a part header block starting with a space',
      'b',
      '--b\r\n Content-Disposition: form-data; name="a"\r\n\r\nhello\r\n--b--\r\n',
      /malformed line in a part header block/,
    ],
    // The shapes that once got no answer at all.
    ['a body of just a delimiter', 'ab', '--ab\r\n', /ended before its closing boundary/],
    [
      'an unterminated header block',
      'ab',
      '--ab\r\nContent-Disposition: form-data; name="a"\r\n',
      /ended before its closing boundary/,
    ],
    [
      'a header block then the end of the body',
      'ab',
      '--ab\r\nContent-Disposition: form-data; name="a"\r\n\r\n',
      /ended before its closing boundary/,
    ],
    [
      'a header block cut by the next delimiter',
      'ab',
      '--ab\r\nContent-Disposition: form-data; name="a"\r\n--ab--\r\n',
      /ended before its header block was complete/,
    ],
    [
      'a boundary parameter that is a prefix of the delimiter',
      'ab',
      '--abc\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--abc--\r\n',
      /ended before|header block/,
    ],
    [
      'LF instead of CRLF',
      'ab',
      '--ab\nContent-Disposition: form-data; name="a"\n\nhello\n--ab--\n',
      /ended before its closing boundary/,
    ],
    [
      'a part header line without a colon',
      'b',
      '--b\r\nContent-Disposition: form-data; name="a"\r\nContent-Type\r\n\r\nhello\r\n--b--\r\n',
      /malformed line in a part header block/,
    ],
    [
      'a control character in a part header',
      'b',
      '--b\r\nContent-Disposition: form-data; name="a\u0001"\r\n\r\nhello\r\n--b--\r\n',
      /malformed line in a part header block/,
    ],
    [
      'a name parameter that is neither a token nor a quoted string',
      'b',
      '--b\r\nContent-Disposition: form-data; name=a"b\r\n\r\nhello\r\n--b--\r\n',
      /Content-Disposition: form-data; name=/,
    ],
    [
      'no closing boundary',
      'b',
      '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nhello\r\n',
      /ended before its closing boundary/,
    ],
    ['no boundary at all in the body', 'b', 'just some bytes', /ended before its closing boundary/],
    [
      'huge part headers',
      'b',
      `--b\r\nContent-Disposition: form-data; name="a"\r\nX-Big: ${'y'.repeat(100_000)}\r\n\r\nhello\r\n--b--\r\n`,
      /part header block larger than 16384 bytes/,
    ],
    [
      'a part without Content-Disposition',
      'b',
      '--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n',
      /Content-Disposition: form-data; name=/,
    ],
    ['a body with no parts', 'b', '--b--\r\n', /without any part/],
  ]
  for (const [what, boundary, body, reason] of malformed) {
    it(`answers 400 to ${what} and keeps serving`, async () => {
      const { port, url } = await start()
      const answer = await rawExchange(port, multipartRequest(port, boundary, body))
      expect(answer).toMatch(/^HTTP\/1\.1 400 /)
      expect(answer).toMatch(reason)
      expect((await fetch(`${url}/health`)).status).toBe(200)
    })
  }

  it('answers 400 to a multipart Content-Type without a boundary parameter', async () => {
    const { url } = await start()
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data' },
      body: '--b--',
    })
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('without a boundary parameter')
  })

  it('enforces the part count limit', async () => {
    const { port } = await start({ multipart: { maxParts: 2 } })
    const part = '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n'
    const answer = await rawExchange(
      port,
      multipartRequest(port, 'b', `${part.repeat(3)}--b--\r\n`),
    )
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(answer).toContain('more than 2 parts')
  })
})

describe('limits and misbehaving clients', () => {
  it('answers 413 from Content-Length before any 100 Continue', async () => {
    const { port } = await start({ maxBodySize: 1000 })
    const answer = await rawExchange(
      port,
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n`,
    )
    expect(answer).toMatch(/^HTTP\/1\.1 413 /)
    expect(answer).not.toContain('100 Continue')
  })

  it('reads a refused body for as long as the client keeps sending, so that it reads the answer', async () => {
    const { port } = await start({ maxBodySize: 1000 })
    // Keep-alive, and `Connection: close`, after which Node would destroy the socket at once.
    const sendForSixSeconds = async (connection: string) => {
      // A client that goes on writing after the server's FIN (curl stops, having the answer).
      const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
      cleanUpAfterTest(async () => {
        socket.destroy()
      })
      const received: Buffer[] = []
      socket.on('data', (chunk: Buffer) => received.push(chunk))
      const failed = new Promise<Error>((resolve) => socket.on('error', resolve))
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
      socket.write(
        `POST / HTTP/1.1\r\nHost: x\r\n${connection}Content-Length: ${64 * 1024 * 1024}\r\n\r\n`,
      )
      // Past the 5 s pause after which the server gives up, with short pauses: it reads it all.
      const chunk = Buffer.alloc(64 * 1024, 0x61)
      const until = Date.now() + 6_000
      while (Date.now() < until) {
        const written = await Promise.race([
          new Promise<Error | null>((resolve) =>
            socket.write(chunk, (error) => resolve(error ?? null)),
          ),
          failed,
        ])
        expect(written, connection).toBeNull()
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(Buffer.concat(received).toString('latin1')).toMatch(/^HTTP\/1\.1 413 /)
      socket.end()
      await closed
    }
    await Promise.all([sendForSixSeconds(''), sendForSixSeconds('Connection: close\r\n')])
  })

  it('sends 100 Continue for an acceptable body', async () => {
    const { port } = await start({ maxBodySize: 1000 })
    const socket = connect(port, '127.0.0.1')
    cleanUpAfterTest(async () => {
      socket.destroy()
    })
    const received: string[] = []
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk.toString())
      if (received.join('').includes('100 Continue') && received.length === 1) socket.write('hello')
    })
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`)
    await new Promise<void>((resolve) => {
      socket.on('data', () => {
        if (received.join('').includes(hex('md5', 'hello'))) resolve()
      })
    })
    expect(received.join('')).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/)
  })

  it('answers 413 when a chunked body grows past the limit', async () => {
    const { url } = await start({ maxBodySize: 1024 * 1024 })
    const res = await fetch(url, { method: 'POST', body: fileBody(), duplex: 'half' })
    expect(res.status).toBe(413)
    expect(await res.text()).toContain('exceeds the limit of 1048576 bytes')
  })

  it('answers 413 when a chunked multipart body grows past the limit in the middle of a part', async () => {
    const { url } = await start({ maxBodySize: 1024 * 1024 })
    async function* body() {
      yield Buffer.from('--b\r\nContent-Disposition: form-data; name="f"; filename="f"\r\n\r\n')
      for await (const chunk of createReadStream(file.path)) yield chunk as Buffer
      yield Buffer.from('\r\n--b--\r\n')
    }
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
      body: Readable.toWeb(Readable.from(body())) as ReadableStream<Uint8Array>,
      duplex: 'half',
    })
    expect(res.status).toBe(413)
    expect(await res.text()).toContain('exceeds the limit')
  })

  it('survives a client that disconnects mid-upload, and counts it', async () => {
    const store = await tempDir('hash-store-')
    const { port, url } = await start({ store: store.path })
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n${'a'.repeat(5000)}`,
        )
        setTimeout(() => {
          socket.destroy()
          resolve()
        }, 100)
      })
    })
    // Polled on the error count: on a loaded machine the request may not have started yet.
    const metrics = () => scrapeMetrics(`${url}/metrics`)
    await expect
      .poll(async () => (await metrics()).get('hash_server_errors_total{code="HASH_ERR_ABORTED"}'))
      .toBe(1)
    // Only the scrape itself is still in flight.
    await expect.poll(async () => (await metrics()).get('hash_server_requests_in_flight')).toBe(1)
    expect(await readdir(join(store.path, '.tmp'))).toEqual([])
    const res = await fetch(url, { method: 'POST', body: 'still here' })
    expect(await res.text()).toBe(`${hex('md5', 'still here')}\n`)
  })

  it('closes a connection whose headers never complete (header timeout)', async () => {
    const { port } = await start({ headersTimeout: 300 })
    const started = Date.now()
    const answer = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: x\r\n', 5_000)
    expect(answer).toMatch(/^HTTP\/1\.1 408 /)
    expect(Date.now() - started).toBeLessThan(4_000)
  })

  it('closes a connection that goes idle mid-body (idle timeout)', async () => {
    const { port, url } = await start({ idleTimeout: 300 })
    const started = Date.now()
    await rawExchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc', 5_000)
    expect(Date.now() - started).toBeLessThan(4_000)
    await expect
      .poll(async () =>
        (await scrapeMetrics(`${url}/metrics`)).get('hash_server_requests_in_flight'),
      )
      .toBe(1)
  })
})

describe('content-addressed store', () => {
  it('stores a verified body at <algorithm>/<hex> and serves it with Range, HEAD and ETag', async () => {
    const store = await tempDir('hash-store-')
    const { url } = await start({ store: store.path, algorithms: ['sha256', 'md5'] })
    const res = await fetch(url, {
      method: 'POST',
      headers: { accept: 'application/json' },
      body: fileBody(),
      duplex: 'half',
    })
    expect(res.status).toBe(201)
    const location = `/sha256/${file.sha256}`
    expect(res.headers.get('location')).toBe(location)
    expect(await res.json()).toEqual({
      size: file.size,
      digests: { sha256: file.sha256, md5: file.md5 },
      location,
    })
    expect(await readdir(join(store.path, 'sha256'))).toEqual([file.sha256])

    const whole = await fetch(`${url}${location}`, { headers: { 'want-repr-digest': 'sha-256=1' } })
    expect(whole.status).toBe(200)
    expect(whole.headers.get('repr-digest')).toBe(
      `sha-256=:${Buffer.from(file.sha256, 'hex').toString('base64')}:`,
    )
    expect(hex('sha256', Buffer.from(await whole.arrayBuffer()))).toBe(file.sha256)
    const etag = whole.headers.get('etag') ?? ''

    const bytes = await readFile(file.path)
    const part = await fetch(`${url}${location}`, { headers: { range: 'bytes=100-199' } })
    expect(part.status).toBe(206)
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${file.size}`)
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(100, 200))
    const suffix = await fetch(`${url}${location}`, { headers: { range: 'bytes=-10' } })
    expect(Buffer.from(await suffix.arrayBuffer())).toEqual(bytes.subarray(file.size - 10))
    const beyond = await fetch(`${url}${location}`, { headers: { range: `bytes=${file.size}-` } })
    expect(beyond.status).toBe(416)

    const head = await fetch(`${url}${location}`, { method: 'HEAD' })
    expect(head.headers.get('content-length')).toBe(String(file.size))
    const cached = await fetch(`${url}${location}`, { headers: { 'if-none-match': etag } })
    expect(cached.status).toBe(304)
    expect((await fetch(`${url}/sha256/${'0'.repeat(64)}`)).status).toBe(404)
    expect((await fetch(`${url}/nope/abc`)).status).toBe(404)
  })

  it('stores each multipart part, and nothing of a body that fails verification', async () => {
    const store = await tempDir('hash-store-')
    const { url } = await start({ store: store.path })
    const form = new FormData()
    form.append('a', new Blob(['first']), 'a.txt')
    form.append('b', new Blob(['second']), 'b.txt')
    const res = await fetch(url, {
      method: 'POST',
      headers: { accept: 'application/json' },
      body: form,
    })
    expect(res.status).toBe(201)
    const { parts } = (await res.json()) as { parts: Array<{ location: string }> }
    expect(parts.map((p) => p.location)).toEqual([
      `/md5/${hex('md5', 'first')}`,
      `/md5/${hex('md5', 'second')}`,
    ])
    expect(await (await fetch(`${url}${parts[1]?.location}`)).text()).toBe('second')

    const bad = await fetch(url, {
      method: 'POST',
      headers: { 'content-md5': b64('md5', 'wrong') },
      body: 'never stored',
    })
    expect(bad.status).toBe(400)
    expect(await readdir(join(store.path, 'md5'))).toHaveLength(2)
    expect(await readdir(join(store.path, '.tmp'))).toEqual([])
  })
})

describe('health and metrics', () => {
  it('answers /health and counts requests, bytes and errors in /metrics', async () => {
    const { url } = await start()
    expect(await (await fetch(`${url}/health`)).text()).toBe('ok\n')
    await fetch(url, { method: 'POST', body: 'hello' }).then((r) => r.text())
    await fetch(`${url}/?algorithm=x`, { method: 'POST', body: 'hello' }).then((r) => r.text())
    const metrics = await scrapeMetrics(`${url}/metrics`)
    expect(metrics.get('hash_server_requests_total{method="POST",status="200"}')).toBe(1)
    expect(metrics.get('hash_server_requests_total{method="GET",status="200"}')).toBe(1)
    expect(metrics.get('hash_server_requests_total{method="POST",status="400"}')).toBe(1)
    expect(metrics.get('hash_server_hashed_bytes_total')).toBe(5)
    // The refused request's body was never read.
    expect(metrics.get('hash_server_received_bytes_total')).toBe(5)
    expect(metrics.get('hash_server_requests_in_flight')).toBe(1)
    expect(metrics.get('hash_server_errors_total{code="HASH_ERR_UNSUPPORTED_ALGORITHM"}')).toBe(1)
  })

  it('serves them on other paths when told, so that they leave the usual ones free', async () => {
    const { url } = await start({ healthPath: '/_/health', metricsPath: '/_/metrics' })
    expect(await (await fetch(`${url}/_/health`)).text()).toBe('ok\n')
    expect((await scrapeMetrics(`${url}/_/metrics`)).has('hash_server_requests_in_flight')).toBe(
      true,
    )
    expect((await fetch(`${url}/metrics`)).status).toBe(405)
  })
})
