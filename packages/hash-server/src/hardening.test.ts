import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  checkAbortedRequests,
  cutConnection,
  missingTool,
  payloadFile,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from '@sluice/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawExchange, startHashServer } from '../test/helpers.js'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))
const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex')

async function start(options: Parameters<typeof startHashServer>[0] = {}) {
  const server = await startHashServer(options)
  return server
}

/** Sends a whole request, then half-closes (shutdown of the write side), as ffmpeg does. */
function sendAndHalfClose(port: number, head: string, body: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const received: Buffer[] = []
    socket.on('data', (chunk: Buffer) => received.push(chunk))
    socket.on('error', () => {})
    socket.on('close', () => resolve(Buffer.concat(received).toString('latin1')))
    socket.write(head)
    socket.end(body)
  })
}

describe('real clients and their habits', () => {
  it("answers `curl -F` of a 1.5 MB file with curl's default Expect: 100-continue, 50 times out of 50", async (context) => {
    const reason = missingTool('curl')
    if (reason) return context.skip(reason)
    const { url } = await start()
    const dir = await tempDir()
    const file = await payloadFile(join(dir.path, 'upload.bin'), 1_500_000)
    const answers: string[] = []
    for (let i = 0; i < 50; i++) {
      const result = await runCli(
        'curl',
        ['-sS', '--fail', '-m', '10', '-v', '-F', `file=@${file.path}`, `${url}/`],
        { timeoutMs: 20_000 },
      )
      expect(result.code, `try ${i + 1}: ${result.stderr.slice(-300)}`).toBe(0)
      answers.push(result.stdout.toString())
      if (i === 0)
        expect(result.stderr).toMatch(/Expect: 100-continue[\s\S]*HTTP\/1.1 100 Continue/)
    }
    expect(new Set(answers)).toEqual(new Set([`${file.md5}  upload.bin\n`]))
  })

  it('answers a complete request whose client half-closes, whatever its shape', async () => {
    const dir = await tempDir()
    for (const options of [{}, { store: dir.path }]) {
      const { port } = await start(options)
      for (const size of [0, 10, 3 * 1024 * 1024]) {
        const body = randomBytes(size)
        const sized = await sendAndHalfClose(
          port,
          `POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${size}\r\n\r\n`,
          body,
        )
        expect(sized, `${size} bytes, ${JSON.stringify(options)}`).toMatch(/^HTTP\/1.1 20[01] /)
        expect(sized).toContain(md5(body))
        const chunked = await sendAndHalfClose(
          port,
          'PUT / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n',
          size === 0
            ? Buffer.from('0\r\n\r\n')
            : Buffer.concat([
                Buffer.from(`${size.toString(16)}\r\n`),
                body,
                Buffer.from('\r\n0\r\n\r\n'),
              ]),
        )
        expect(chunked).toMatch(/^HTTP\/1.1 20[01] /)
        expect(chunked).toContain(md5(body))
      }
    }
  })
})

describe('strict requests', () => {
  it('answers Transfer-Encoding other than chunked with 501', async () => {
    const { port } = await start()
    const answer = await rawExchange(
      port,
      'POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    )
    expect(answer).toMatch(/^HTTP\/1.1 501 Not Implemented/)
    expect(answer).toContain('Transfer-Encoding "gzip, chunked" is not supported')
  })

  it('answers a malformed chunked body with 400 and the reason', async () => {
    const { port } = await start()
    const answer = await rawExchange(
      port,
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n',
    )
    expect(answer).toMatch(/^HTTP\/1.1 400 Bad Request/)
    expect(answer).toMatch(/malformed HTTP request: .+\(HPE_/)
  })
})

describe('content-addressed store', () => {
  it('never follows a symbolic link, and answers impossible names with 404', async () => {
    const dir = await tempDir()
    const store = join(dir.path, 'store')
    await mkdir(store)
    const secret = Buffer.from('outside the store')
    await mkdir(join(dir.path, 'elsewhere'))
    await writeFile(join(dir.path, 'elsewhere', md5(secret)), secret)
    // The md5 directory of the store leads outside it.
    await symlink(join(dir.path, 'elsewhere'), join(store, 'md5'))
    const { url } = await start({ store })
    const linked = await fetch(`${url}/md5/${md5(secret)}`)
    expect(linked.status).toBe(403)
    expect(await linked.text()).not.toContain('outside the store')
    // Storing through it is refused too: nothing lands outside.
    const stored = await fetch(`${url}/`, { method: 'POST', body: 'new body' })
    expect(stored.status).toBe(500)
    expect(await readdir(join(dir.path, 'elsewhere'))).toEqual([md5(secret)])
    for (const name of ['a'.repeat(300), 'abc', `${md5(secret)}00`]) {
      expect((await fetch(`${url}/sha256/${name}`)).status, name).toBe(404)
    }
  })

  it('honours If-Range and If-Modified-Since on stored objects', async () => {
    const dir = await tempDir()
    const { url } = await start({ store: dir.path })
    const body = randomBytes(1000)
    const location = (await fetch(`${url}/`, { method: 'POST', body })).headers.get('location')
    const first = await fetch(`${url}${location}`)
    const modified = first.headers.get('last-modified') ?? ''
    await first.arrayBuffer()
    const stale = await fetch(`${url}${location}`, {
      headers: { range: 'bytes=0-9', 'if-range': '"md5-0"' },
    })
    expect(stale.status).toBe(200)
    expect(Buffer.from(await stale.arrayBuffer()).equals(body)).toBe(true)
    const fresh = await fetch(`${url}${location}`, { headers: { 'if-modified-since': modified } })
    expect(fresh.status).toBe(304)
  })
})

describe('hash-server CLI on unusable storage', () => {
  it('exits 1 with one clear line when --store cannot be used', async () => {
    const dir = await tempDir()
    const file = join(dir.path, 'a-file')
    await writeFile(file, 'x')
    for (const [store, reason] of [
      [file, /is not a directory/],
      [join(file, 'below'), /is not a directory/],
      ['/proc/sluice-store', /does not exist|permission denied|read-only|not permitted/],
    ] as const) {
      const result = await runCli(process.execPath, [BIN, '--port', '0', '--store', store], {
        timeoutMs: 20_000,
      })
      expect(result.code, store).toBe(1)
      const lines = result.stderr.trim().split('\n')
      expect(lines, result.stderr).toHaveLength(1)
      expect(lines[0]).toMatch(new RegExp(`^hash-server: cannot start: --store ${store} `))
      expect(lines[0]).toMatch(reason)
    }
  })
})

describe('1,000 aborted requests of each kind', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let server: ServerProcess
  let port: number
  beforeAll(async () => {
    dir = await tempDir()
    server = await startServerProcess(process.execPath, [
      // A leak of even a few hundred bytes per request would exhaust this heap.
      '--max-old-space-size=64',
      BIN,
      '--port',
      '0',
      '--store',
      dir.path,
    ])
    port = Number(new URL(server.url).port)
  })
  afterAll(async () => {
    await server.stop()
    await dir.remove()
  })

  const cut = (request: string | Buffer, afterAnswer = false) =>
    cutConnection(port, request, { afterAnswer })

  const kinds: ReadonlyArray<() => Promise<void>> = [
    // A sized body cut in the middle (large: it goes to a hashing thread).
    () =>
      cut(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n${'x'.repeat(100_000)}`),
    // A chunked body cut in the middle of a chunk.
    () => cut('PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\nabc'),
    // A multipart body cut in the middle of a part.
    () =>
      cut(
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n' +
          'Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name="f"; filename="f"\r\n\r\nxyz',
      ),
    // Expect: 100-continue, then gone after the 100.
    () =>
      cut(
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n',
        true,
      ),
    // Headers that never finish.
    () => cut('POST / HTTP/1.1\r\nHost: x\r\nContent-Le'),
  ]

  it('leave no descriptor, temp file or memory behind', { timeout: 180_000 }, async () => {
    await checkAbortedRequests([server.child.pid ?? 0], kinds)
    await expect.poll(() => readdir(join(dir.path, '.tmp')), { timeout: 10_000 }).toEqual([])
    expect(
      await (await fetch(`${server.url}/`, { method: 'POST', body: 'still here' })).text(),
    ).toBe(`${md5('still here')}\n`)
  })
})
