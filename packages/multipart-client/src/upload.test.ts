import { createHash } from 'node:crypto'
import { getEventListeners } from 'node:events'
import { createReadStream } from 'node:fs'
import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { createHashServer } from '@sluice/hash-server'
import {
  cleanUpAfterTest,
  listen,
  type PayloadFile,
  payloadFile,
  tempDir,
} from '@sluice/test-utils'
import { Agent, buildConnector } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBusboyServer } from '../test/servers.js'
import {
  ConnectionError,
  EarlyResponseError,
  MultipartClient,
  type UploadProgress,
  upload,
} from './index.js'

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')
const md5 = (data: string | Buffer) => createHash('md5').update(data).digest('hex')

let dir: Awaited<ReturnType<typeof tempDir>>
let big: PayloadFile
let small: PayloadFile
let empty: PayloadFile

beforeAll(async () => {
  dir = await tempDir('multipart-client-test-')
  big = await payloadFile(join(dir.path, 'big.bin'), 6 * 1024 * 1024 + 3)
  small = await payloadFile(join(dir.path, 'notes.txt'), 1000)
  empty = await payloadFile(join(dir.path, 'empty.dat'), 0)
})
afterAll(() => dir.remove())

async function busboyServer() {
  const server = await startBusboyServer()
  return server
}

async function hashServer(options: Parameters<typeof createHashServer>[0] = {}) {
  const server = await listen(createHashServer({ onError: () => {}, ...options }))
  return server
}

describe('upload()', () => {
  it('sends files and fields as parts of one body on one connection, with an exact Content-Length', async () => {
    const server = await busboyServer()
    const progress: UploadProgress[] = []
    const res = await upload(
      `${server.url}/upload`,
      [
        { name: 'title', value: 'héllo wörld' },
        { name: 'big', path: big.path },
        { name: 'notes', path: small.path },
        { name: 'empty', path: empty.path },
      ],
      { onProgress: (p) => progress.push(p) },
    )
    expect(res.status).toBe(200)
    await res.body.json()
    expect(server.connections).toBe(1)
    const [request] = server.requests
    expect(request?.headers['content-type']).toMatch(
      /^multipart\/form-data; boundary=----sluice[0-9a-f]{32}$/,
    )
    expect(request?.headers['transfer-encoding']).toBeUndefined()
    expect(Number(request?.headers['content-length'])).toBe(request?.bodyBytes)
    expect(request?.parts).toEqual([
      {
        name: 'title',
        filename: undefined,
        mimeType: undefined,
        size: 13,
        sha256: sha256('héllo wörld'),
        value: 'héllo wörld',
      },
      {
        name: 'big',
        filename: 'big.bin',
        mimeType: 'application/octet-stream',
        size: big.size,
        sha256: big.sha256,
      },
      {
        name: 'notes',
        filename: 'notes.txt',
        mimeType: 'text/plain',
        size: 1000,
        sha256: small.sha256,
      },
      {
        name: 'empty',
        filename: 'empty.dat',
        mimeType: 'application/octet-stream',
        size: 0,
        sha256: sha256(''),
      },
    ])
    const last = progress.at(-1)
    expect(last).toEqual({ loaded: request?.bodyBytes, total: request?.bodyBytes, part: undefined })
    expect(progress.some((p) => p.part === 'big' && p.loaded < big.size)).toBe(true)
  })

  it('accepts every kind of source; unknown sizes make the request chunked', async () => {
    const server = await busboyServer()
    async function* generated() {
      yield Buffer.from('gen-')
      yield new TextEncoder().encode('erated')
    }
    const res = await upload(server.url, [
      { name: 'readable', source: createReadStream(small.path), filename: 'r.bin' },
      {
        name: 'web',
        source: Readable.toWeb(createReadStream(small.path)) as ReadableStream<Uint8Array>,
      },
      { name: 'iterable', source: generated(), contentType: 'text/x-custom' },
      { name: 'blob', source: new Blob(['blob data']) },
      { name: 'file', source: new File(['file data'], 'named.json') },
      { name: 'buffer', source: Buffer.from('buffer data'), filename: 'b.txt' },
      { name: 'string', source: 'string data' },
    ])
    expect(res.status).toBe(200)
    await res.body.dump()
    const [request] = server.requests
    expect(request?.headers['transfer-encoding']).toBe('chunked')
    expect(request?.headers['content-length']).toBeUndefined()
    expect(request?.parts.map((p) => [p.name, p.filename, p.mimeType, p.sha256])).toEqual([
      ['readable', 'r.bin', 'application/octet-stream', small.sha256],
      ['web', 'blob', 'application/octet-stream', small.sha256],
      ['iterable', 'blob', 'text/x-custom', sha256('gen-erated')],
      ['blob', 'blob', 'application/octet-stream', sha256('blob data')],
      ['file', 'named.json', 'application/json', sha256('file data')],
      ['buffer', 'b.txt', 'text/plain', sha256('buffer data')],
      ['string', 'blob', 'application/octet-stream', sha256('string data')],
    ])
  })

  it('sends a Content-Length for a stream whose size is given', async () => {
    const server = await busboyServer()
    const res = await upload(server.url, [
      { name: 'f', source: createReadStream(big.path), size: big.size },
    ])
    await res.body.dump()
    const [request] = server.requests
    expect(Number(request?.headers['content-length'])).toBe(request?.bodyBytes)
    expect(request?.parts[0]?.sha256).toBe(big.sha256)
  })

  it('fails a stream that does not match its declared size, without a complete body', async () => {
    const server = await busboyServer()
    await expect(
      upload(server.url, [{ name: 'f', source: Readable.from([Buffer.from('12345')]), size: 10 }]),
    ).rejects.toMatchObject({
      code: 'MPC_ERR_SOURCE',
      message: expect.stringContaining('declared 10 bytes'),
    })
    await expect(
      upload(server.url, [{ name: 'f', source: Readable.from([Buffer.from('12345')]), size: 2 }]),
    ).rejects.toMatchObject({ code: 'MPC_ERR_SOURCE' })
  })

  it('fails a stream that errors before its turn with a SourceError, not an uncaught error', async () => {
    const server = await busboyServer()
    // The stream fails to open while the 6 MiB part before it is still being sent.
    const missing = createReadStream(join(dir.path, 'missing.bin'))
    await expect(
      upload(server.url, [
        { name: 'first', path: big.path },
        { name: 'second', source: missing },
      ]),
    ).rejects.toMatchObject({
      code: 'MPC_ERR_SOURCE',
      message: expect.stringContaining('"second"'),
      cause: { code: 'ENOENT' },
    })
    expect(missing.destroyed).toBe(true)
    const res = await upload(server.url, [{ name: 'again', path: small.path }])
    expect(res.status).toBe(200)
    await res.body.dump()
  })

  it('fails a file that grows after the upload started instead of sending a wrong body', async () => {
    const server = await busboyServer()
    const path = join(dir.path, 'growing.txt')
    await writeFile(path, 'short')
    async function* slowFirstPart() {
      yield Buffer.from('first part')
      await appendFile(path, ' and then longer')
    }
    await expect(
      upload(server.url, [
        { name: 'slow', source: slowFirstPart() },
        { name: 'growing', path },
      ]),
    ).rejects.toMatchObject({
      code: 'MPC_ERR_SOURCE',
      message: expect.stringContaining('it was 5 bytes'),
    })
  })

  it('escapes names and filenames as the WHATWG encoder does', async () => {
    const server = await busboyServer()
    const res = await upload(server.url, [
      { name: 'we"ird\r\nname', value: 'v' },
      { name: 'f', source: 'x', filename: 'quote"new\nline ünï.txt' },
    ])
    await res.body.dump()
    expect(server.requests[0]?.parts.map((p) => [p.name, p.filename])).toEqual([
      ['we%22ird%0D%0Aname', undefined],
      ['f', 'quote%22new%0Aline ünï.txt'],
    ])
  })

  it('is parsed part by part by the hash-server, digests matching', async () => {
    const server = await hashServer()
    const res = await upload(
      `${server.url}/?algorithm=md5,sha256`,
      [
        { name: 'big', path: big.path },
        { name: 'field', value: 'value' },
      ],
      { headers: { accept: 'application/json' } },
    )
    expect(res.status).toBe(200)
    const { parts } = (await res.body.json()) as {
      parts: Array<{ name: string; size: number; digests: Record<string, string> }>
    }
    expect(parts.map((p) => [p.name, p.size, p.digests])).toEqual([
      ['big', big.size, { md5: big.md5, sha256: big.sha256 }],
      ['field', 5, { md5: md5('value'), sha256: sha256('value') }],
    ])
  })

  it('rejects a refused connection at once with its real cause, and does not retry', async () => {
    const closed = await listen(createServer())
    const { port } = closed
    await closed.close()
    const started = Date.now()
    const error = await upload(`http://127.0.0.1:${port}/`, [{ name: 'f', path: big.path }]).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error).toMatchObject({ code: 'MPC_ERR_CONNECTION', cause: { code: 'ECONNREFUSED' } })
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('returns an early 413 and stops sending the rest of the body', async () => {
    const server = await hashServer({ maxBodySize: 256 * 1024 })
    let loaded = 0
    const notReached = createReadStream(small.path)
    const res = await upload(
      server.url,
      [
        { name: 'f', source: createReadStream(big.path) },
        { name: 'g', source: notReached },
      ],
      {
        onProgress: (p) => {
          loaded = p.loaded
        },
      },
    )
    expect(res.status).toBe(413)
    expect(await res.body.text()).toContain('exceeds the limit')
    expect(loaded).toBeLessThan(big.size)
    // A stream the upload never reached is closed, its file descriptor with it.
    expect(notReached.destroyed).toBe(true)
  })

  it('aborts mid-part with an AbortError, closing the request, and leaves no abort listener', async () => {
    const server = await busboyServer()
    const controller = new AbortController()
    const uploading = upload(server.url, [{ name: 'f', path: big.path }], {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.loaded > 1024 * 1024) controller.abort()
      },
    })
    await expect(uploading).rejects.toMatchObject({ name: 'AbortError', code: 'MPC_ERR_ABORTED' })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    await expect.poll(() => server.requests[0]?.parts.length ?? 0).toBe(0)

    const signal = new AbortController().signal
    const res = await upload(server.url, [{ name: 'a', value: 'b' }], { signal })
    await res.body.dump()
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
  })

  it('retries a path source after a dropped connection and a 503 with Retry-After', async () => {
    let attempts = 0
    const upstream = await busboyServer()
    const flaky = await listen(
      createServer((req, res) => {
        attempts++
        if (attempts === 1) {
          req.socket.destroy()
          return
        }
        if (attempts === 2) {
          req.resume()
          req.on('end', () => res.writeHead(503, { 'retry-after': '0' }).end('busy'))
          return
        }
        // Third attempt: hand the body to the busboy server and relay its answer.
        fetch(upstream.url, {
          method: 'POST',
          headers: { 'content-type': req.headers['content-type'] ?? '' },
          body: Readable.toWeb(req) as ReadableStream<Uint8Array>,
          duplex: 'half',
        })
          .then(async (answer) => res.writeHead(answer.status).end(await answer.text()))
          .catch((error: Error) => res.destroy(error))
      }),
    )
    const res = await upload(flaky.url, [{ name: 'f', path: big.path }], {
      retry: { retries: 3, minDelay: 10 },
    })
    expect(res.status).toBe(200)
    expect(attempts).toBe(3)
    expect(await res.body.json()).toEqual([
      {
        name: 'f',
        filename: 'big.bin',
        mimeType: 'application/octet-stream',
        size: big.size,
        sha256: big.sha256,
      },
    ])
  })

  it('fails with MPC_ERR_TIMEOUT when the server never answers', async () => {
    const silent = await listen(
      createServer((req) => {
        req.resume()
      }),
    )
    await expect(
      upload(silent.url, [{ name: 'a', value: 'b' }], { headersTimeout: 200 }),
    ).rejects.toMatchObject({ code: 'MPC_ERR_TIMEOUT', cause: { code: 'UND_ERR_HEADERS_TIMEOUT' } })
  })

  it('sends through the dispatcher it is given', async () => {
    const server = await busboyServer()
    let connects = 0
    const connector = buildConnector({})
    const agent = new Agent({
      connect: (options, callback) => {
        connects++
        connector(options, callback)
      },
    })
    cleanUpAfterTest(() => agent.close())
    const res = await upload(server.url, [{ name: 'a', value: 'b' }], { dispatcher: agent })
    await res.body.dump()
    expect(connects).toBe(1)
    expect(server.requests[0]?.parts[0]?.value).toBe('b')
  })

  it('refuses to retry a one-shot stream, and names the part', async () => {
    await expect(
      upload('http://127.0.0.1:1/', [{ name: 'pipe', source: Readable.from(['x']) }], { retry: 2 }),
    ).rejects.toMatchObject({
      code: 'MPC_ERR_INVALID_ARGUMENT',
      message: expect.stringContaining('"pipe"'),
    })
  })

  it('reports a missing file before connecting', async () => {
    await expect(
      upload('http://127.0.0.1:1/', [{ name: 'f', path: join(dir.path, 'nope') }]),
    ).rejects.toMatchObject({
      code: 'MPC_ERR_SOURCE',
      cause: { code: 'ENOENT' },
    })
  })
})

describe('MultipartClient', () => {
  it('adds parts one by one to one body on one connection (sendUnclose, close)', async () => {
    const server = await busboyServer()
    const client = new MultipartClient(server.url, { fieldName: 'upload' })
    await client.sendUnclose({ path: big.path })
    // The first part's bytes are on the socket before the body is finished.
    await expect.poll(() => server.partEvents.length).toBe(1)
    await client.sendUnclose(await readFile(small.path), { name: 'second', filename: 'second.txt' })
    await client.sendUnclose({ path: empty.path })
    const res = await client.close()
    expect(res.status).toBe(200)
    await res.body.dump()
    expect(server.connections).toBe(1)
    expect(server.requests).toHaveLength(1)
    expect(server.requests[0]?.parts.map((p) => [p.name, p.filename, p.size, p.sha256])).toEqual([
      ['upload', 'big.bin', big.size, big.sha256],
      ['second', 'second.txt', small.size, small.sha256],
      ['upload', 'empty.dat', 0, sha256('')],
    ])
    await expect(client.sendUnclose('late')).rejects.toMatchObject({
      code: 'MPC_ERR_INVALID_ARGUMENT',
    })
  })

  it('send() is one part and the end of the body', async () => {
    const server = await hashServer()
    const res = await new MultipartClient(server.url).send({ path: small.path })
    expect(await res.body.text()).toBe(`${small.md5}  notes.txt\n`)
  })

  it('returns an early response from close(), and parts not sent reject', async () => {
    const server = await hashServer({ maxBodySize: 128 * 1024 })
    const client = new MultipartClient(server.url)
    const first = client.sendUnclose({ path: big.path })
    const unread = createReadStream(small.path)
    const second = client.sendUnclose(unread)
    const settled = Promise.allSettled([first, second])
    const res = await client.close()
    expect(res.status).toBe(413)
    await res.body.dump()
    const [one, two] = await settled
    expect(one).toMatchObject({ status: 'rejected', reason: expect.any(EarlyResponseError) })
    expect(two).toMatchObject({
      status: 'rejected',
      reason: { code: 'MPC_ERR_EARLY_RESPONSE', status: 413 },
    })
    expect(unread.destroyed).toBe(true)
  })

  it('rejects every part with the connection error', async () => {
    const client = new MultipartClient('http://127.0.0.1:1/')
    const part = client.sendUnclose('x')
    part.catch(() => {})
    await expect(part).rejects.toMatchObject({ code: 'MPC_ERR_CONNECTION' })
    await expect(client.close()).rejects.toMatchObject({ code: 'MPC_ERR_CONNECTION' })
  })
})
