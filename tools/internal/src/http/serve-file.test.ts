import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { readdirSync, readlinkSync } from 'node:fs'
import { mkdir, readFile, symlink, truncate, writeFile } from 'node:fs/promises'
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, createSecureServer, constants as http2 } from 'node:http2'
import { connect as connectTcp } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { listen, selfSignedCertificate, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { fileRepresentation, serveFile, serveRepresentation } from './index.js'

const execFileAsync = promisify(execFile)
const MiB = 1024 * 1024
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** How many descriptors this process holds open on `path`. */
function openDescriptors(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path
    } catch {
      return false
    }
  }).length
}

/** curl (an independent client) downloading `url` to a file: its status, HTTP version and exit. */
async function curlGet(url: string, out: string, args: readonly string[] = []) {
  const result = await execFileAsync('curl', [
    ...['-sS', '-k', '--max-time', '60', '-o', out, '-w', '%{http_code} %{http_version}'],
    ...args,
    url,
  ]).then(
    ({ stdout }) => ({ exit: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ exit: error.code, stdout: error.stdout }),
  )
  const [status, version] = result.stdout.split(' ')
  return { exit: result.exit, status: Number(status), version }
}

/** A server of `root` over HTTP/1.1, and one over HTTPS with HTTP/2 (HTTP/1.1 fallback). */
async function fileServers(root: string, certDir: string) {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void serveFile(req, res, root, (req.url ?? '/').slice(1)).then((unservable) => {
      if (unservable) res.writeHead(404).end(unservable)
    })
  }
  const plain = await listen(createServer(handler))
  const tls = await selfSignedCertificate(certDir)
  const secure = await listen(
    createSecureServer(
      { cert: tls.cert, key: tls.key, allowHTTP1: true },
      handler as never,
    ) as never,
  )
  return { plain: plain.url, secure: secure.url.replace('http:', 'https:') }
}

describe('serveFile', () => {
  it('serves a file with length, ETag, one range, HEAD and 304, and reports a missing file', async () => {
    const dir = await tempDir()
    await writeFile(join(dir.path, 'f.txt'), '0123456789')
    await mkdir(join(dir.path, 'sub'))
    const server = createServer((req, res) => {
      const relative = (req.url ?? '/').slice(1)
      void serveFile(req, res, dir.path, relative, { contentType: 'text/plain' }).then(
        (unservable) => {
          if (unservable) res.writeHead(404, { 'x-reason': unservable }).end()
        },
      )
    })
    const { url } = await listen(server)
    const whole = await fetch(`${url}/f.txt`)
    expect(whole.status).toBe(200)
    expect(whole.headers.get('content-length')).toBe('10')
    expect(whole.headers.get('content-type')).toBe('text/plain')
    expect(await whole.text()).toBe('0123456789')
    const etag = whole.headers.get('etag') ?? ''
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/)

    const part = await fetch(`${url}/f.txt`, { headers: { range: 'bytes=2-4' } })
    expect(part.status).toBe(206)
    expect(part.headers.get('content-range')).toBe('bytes 2-4/10')
    expect(await part.text()).toBe('234')
    const beyond = await fetch(`${url}/f.txt`, { headers: { range: 'bytes=10-' } })
    expect(beyond.status).toBe(416)
    expect(beyond.headers.get('content-range')).toBe('bytes */10')

    const head = await fetch(`${url}/f.txt`, { method: 'HEAD' })
    expect(head.headers.get('content-length')).toBe('10')
    expect(await head.text()).toBe('')
    expect((await fetch(`${url}/f.txt`, { headers: { 'if-none-match': etag } })).status).toBe(304)
    const missing = await fetch(`${url}/missing`)
    expect([missing.status, missing.headers.get('x-reason')]).toEqual([404, 'missing'])
    const directory = await fetch(`${url}/sub`)
    expect([directory.status, directory.headers.get('x-reason')]).toEqual([404, 'not-a-file'])
  })

  it('applies a range only while If-Range matches, and answers 412 to a failed If-Match', async () => {
    const dir = await tempDir()
    await writeFile(join(dir.path, 'f'), '0123456789')
    const { url } = await listen(
      createServer((req, res) => {
        void serveFile(req, res, dir.path, 'f')
      }),
    )
    const first = await fetch(`${url}/f`)
    const etag = first.headers.get('etag') ?? ''
    const modified = first.headers.get('last-modified') ?? ''
    await first.arrayBuffer()
    const range = { range: 'bytes=8-' }
    const byEtag = await fetch(`${url}/f`, { headers: { ...range, 'if-range': etag } })
    expect([byEtag.status, await byEtag.text()]).toEqual([206, '89'])
    const byDate = await fetch(`${url}/f`, { headers: { ...range, 'if-range': modified } })
    expect([byDate.status, await byDate.text()]).toEqual([206, '89'])
    const weak = await fetch(`${url}/f`, { headers: { ...range, 'if-range': `W/${etag}` } })
    expect([weak.status, await weak.text()]).toEqual([200, '0123456789'])
    const older = new Date(Date.parse(modified) - 60_000).toUTCString()
    const stale = await fetch(`${url}/f`, { headers: { ...range, 'if-range': older } })
    expect([stale.status, await stale.text()]).toEqual([200, '0123456789'])
    expect((await fetch(`${url}/f`, { headers: { 'if-modified-since': modified } })).status).toBe(
      304,
    )
    expect((await fetch(`${url}/f`, { headers: { 'if-modified-since': older } })).status).toBe(200)
    expect((await fetch(`${url}/f`, { headers: { 'if-match': etag } })).status).toBe(200)
    expect((await fetch(`${url}/f`, { headers: { 'if-match': '"x"' } })).status).toBe(412)
    expect((await fetch(`${url}/f`, { headers: { 'if-unmodified-since': older } })).status).toBe(
      412,
    )
  })

  it('never follows a symbolic link below the root', async () => {
    const dir = await tempDir()
    const root = join(dir.path, 'root')
    await mkdir(root)
    await writeFile(join(dir.path, 'secret'), 'outside')
    await symlink(join(dir.path, 'secret'), join(root, 'link'))
    await symlink(dir.path, join(root, 'up'))
    const { url } = await listen(
      createServer((req, res) => {
        void serveFile(req, res, root, (req.url ?? '/').slice(1)).then((unservable) => {
          res.writeHead(unservable === 'symlink' ? 403 : 404).end(unservable)
        })
      }),
    )
    for (const path of ['/link', '/up/secret']) {
      const res = await fetch(`${url}${path}`)
      expect([res.status, await res.text()], path).toEqual([403, 'symlink'])
    }
  })

  it('sends files of many MiB and ranges across read boundaries byte-exact, over HTTP/1.1 and HTTP/2 (curl)', async () => {
    const dir = await tempDir()
    const data = randomBytes(3 * MiB + 12_345)
    await writeFile(join(dir.path, 'big.bin'), data)
    const { plain, secure } = await fileServers(dir.path, dir.path)
    const out = join(dir.path, 'out')
    const cases: Array<[string, readonly string[], string, number, Buffer]> = [
      [plain, ['--http1.1'], '1.1', 200, data],
      [
        plain,
        ['--http1.1', '-r', `${MiB - 10}-${2 * MiB + 9}`],
        '1.1',
        206,
        data.subarray(MiB - 10, 2 * MiB + 10),
      ],
      [secure, ['--http2'], '2', 200, data],
      [
        secure,
        ['--http2', '-r', `${MiB - 10}-${2 * MiB + 9}`],
        '2',
        206,
        data.subarray(MiB - 10, 2 * MiB + 10),
      ],
      [secure, ['--http2', '-r', '-1000'], '2', 206, data.subarray(data.length - 1000)],
      [secure, ['--http1.1'], '1.1', 200, data],
    ]
    for (const [base, args, version, status, expected] of cases) {
      const got = await curlGet(`${base}/big.bin`, out, args)
      expect(got, args.join(' ')).toEqual({ exit: 0, status, version })
      expect(sha256(await readFile(out)), args.join(' ')).toBe(sha256(expected))
    }
    // The file is closed just after the last byte is sent.
    await expect.poll(() => openDescriptors(join(dir.path, 'big.bin'))).toBe(0)
  })

  it('serves many concurrent readers byte-exact, also past the large read buffers', async () => {
    const dir = await tempDir()
    const data = randomBytes(3 * MiB + 1)
    await writeFile(join(dir.path, 'big.bin'), data)
    const { plain } = await fileServers(dir.path, dir.path)
    const bodies = await Promise.all(
      Array.from({ length: 48 }, async () =>
        Buffer.from(await (await fetch(`${plain}/big.bin`)).arrayBuffer()),
      ),
    )
    for (const body of bodies) expect(sha256(body)).toBe(sha256(data))
    // The file is closed just after the last byte is sent.
    await expect.poll(() => openDescriptors(join(dir.path, 'big.bin'))).toBe(0)
  })

  it('closes the file when a client leaves mid-body, over HTTP/1.1 and HTTP/2, and serves the next one', async () => {
    const dir = await tempDir()
    const path = join(dir.path, 'big.bin')
    const data = randomBytes(16 * MiB)
    await writeFile(path, data)
    const { plain, secure } = await fileServers(dir.path, dir.path)
    await new Promise<void>((resolve, reject) => {
      const req = get(`${plain}/big.bin`, (res) => {
        res.once('data', () => {
          req.destroy()
          resolve()
        })
      })
      req.on('error', () => {})
      req.once('response', (res) => res.once('error', reject))
    })
    await expect.poll(() => openDescriptors(path)).toBe(0)
    const session = connect(secure, { rejectUnauthorized: false })
    session.on('error', () => {})
    await new Promise<void>((resolve) => {
      const stream = session.request({ ':path': '/big.bin' })
      stream.on('error', () => {})
      stream.once('data', () => {
        stream.close(http2.NGHTTP2_CANCEL)
        resolve()
      })
    })
    session.close()
    await expect.poll(() => openDescriptors(path)).toBe(0)
    const out = join(dir.path, 'out')
    expect(await curlGet(`${secure}/big.bin`, out, ['--http2'])).toEqual({
      exit: 0,
      status: 200,
      version: '2',
    })
    expect(sha256(await readFile(out))).toBe(sha256(data))
  })

  it('closes every file when a client that pipelined two GETs leaves during the first', async () => {
    const dir = await tempDir()
    const path = join(dir.path, 'big.bin')
    await writeFile(path, randomBytes(16 * MiB))
    const { plain } = await fileServers(dir.path, dir.path)
    const socket = connectTcp(Number(new URL(plain).port), '127.0.0.1')
    socket.on('error', () => {})
    const request = 'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n'
    socket.write(request + request)
    await once(socket, 'data')
    socket.destroy()
    await expect.poll(() => openDescriptors(path)).toBe(0)
  })

  it('ends the body abnormally when the file shrinks after its length was sent (HTTP/1.1 and HTTP/2)', async () => {
    const dir = await tempDir()
    const path = join(dir.path, 'shrinking.bin')
    const handler = async (req: IncomingMessage, res: ServerResponse) => {
      await writeFile(path, randomBytes(3 * MiB))
      const representation = await fileRepresentation(dir.path, 'shrinking.bin')
      if (typeof representation === 'string') throw new Error(representation)
      await truncate(path, MiB + 100)
      await serveRepresentation(req, res, representation)
    }
    const plain = await listen(createServer((req, res) => void handler(req, res)))
    const tls = await selfSignedCertificate(dir.path)
    const secure = await listen(
      createSecureServer(
        { cert: tls.cert, key: tls.key },
        ((req: IncomingMessage, res: ServerResponse) => void handler(req, res)) as never,
      ) as never,
    )
    const out = join(dir.path, 'out')
    for (const [url, args] of [
      [plain.url, ['--http1.1']],
      [secure.url.replace('http:', 'https:'), ['--http2']],
    ] as const) {
      const got = await curlGet(`${url}/`, out, args)
      expect(got.status, args[0]).toBe(200)
      // 18: transferred a partial file; 92: HTTP/2 stream not closed cleanly.
      expect([18, 92], `${args[0]} curl exit ${got.exit}`).toContain(got.exit)
    }
    await expect.poll(() => openDescriptors(path)).toBe(0)
  })
})
