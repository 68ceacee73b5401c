import { once } from 'node:events'
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  listen,
  missingSmallDisk,
  onSmallDisk,
  startServerProcess,
  tempDir,
} from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { closePayload, frame, OPCODE, openRawSession } from '../test/raw-websocket.js'
import { createFstreamServer, type FstreamServerOptions, PROTOCOL } from './index.js'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))

async function start(options: Partial<FstreamServerOptions> = {}) {
  const dir = await tempDir('fstream-hard-')
  const root = join(dir.path, 'root')
  await mkdir(root)
  const logged: string[] = []
  const server = await listen(
    createFstreamServer({ root, log: (line) => logged.push(line), ...options }),
  )
  return { ...server, root, outside: dir.path, logged }
}

const v1 = { 'Sec-WebSocket-Protocol': PROTOCOL }
const append = { ...v1, 'X-Verb': 'APPEND' }
const binary = (bytes: Buffer) => frame({ opcode: OPCODE.binary, payload: bytes })
const controls = (texts: string[]) =>
  texts.map((text) => JSON.parse(text) as { type: string; offset: number })

/** The status line of a refused upgrade. */
async function refusal(port: number, path: string, headers: Record<string, string>) {
  return openRawSession(port, path, headers).then(
    () => 'upgraded',
    (error: Error) => error.message,
  )
}

describe('close codes tell the truth', () => {
  it('an appender that sends its data and its close together gets the last ack, then 1000', async () => {
    const { port, root } = await start()
    const session = await openRawSession(port, '/burst', append)
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(100_000, i))
    session.send(
      ...chunks.map(binary),
      frame({ opcode: OPCODE.close, payload: closePayload(1000) }),
    )
    const closed = await session.closed
    expect(closed.code).toBe(1000)
    // Every byte was acknowledged before the close said so.
    expect(controls(session.texts).at(-1)).toEqual({ type: 'ack', offset: 4_000_000 })
    expect((await readFile(join(root, 'burst'))).length).toBe(4_000_000)
    session.socket.destroy()
  })

  it('a full disk gets 1011 with the reason, never 1000, even with data and close together', async (context) => {
    const reason = missingSmallDisk()
    if (reason) return context.skip(reason)
    const dir = await tempDir('fstream-full-')
    const [command, args] = onSmallDisk(dir.path, 256 * 1024, process.execPath, [
      BIN,
      '--root',
      dir.path,
      '--port',
      '0',
    ])
    const server = await startServerProcess(command, args)
    const port = Number(new URL(server.url).port)
    const session = await openRawSession(port, '/big.log', append)
    session.send(
      ...Array.from({ length: 16 }, () => binary(Buffer.alloc(64 * 1024, 7))),
      frame({ opcode: OPCODE.close, payload: closePayload(1000) }),
    )
    const closed = await session.closed
    expect(closed.code).toBe(1011)
    expect(closed.reason).toMatch(/no space|ENOSPC/i)
    session.socket.destroy()
    // What was acknowledged is really there.
    const acked =
      controls(session.texts)
        .filter((m) => m.type === 'ack')
        .at(-1)?.offset ?? 0
    const stored = Buffer.from(await (await fetch(`${server.url}/big.log`)).arrayBuffer())
    expect(stored.length).toBeGreaterThanOrEqual(acked)
    expect(acked).toBeLessThan(16 * 64 * 1024)
    // The server goes on: the key is free, a small append still works where space remains.
    expect((await fetch(`${server.url}/big.log`, { method: 'HEAD' })).status).toBe(200)
  })
})

describe('legacy mode is what httpfstream clients expect', () => {
  it('answers a follower with a plain HTTP 200 of the content when nobody appends', async () => {
    const { url, root } = await start()
    await writeFile(join(root, 'done.log'), 'x'.repeat(300_000))
    const ws = new WebSocket(`${url.replace('http', 'ws')}/done.log`)
    ws.on('error', () => {})
    const [, res] = (await once(ws, 'unexpected-response')) as [
      unknown,
      import('node:http').IncomingMessage,
    ]
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-length']).toBe('300000')
    const chunks: Buffer[] = []
    for await (const chunk of res) chunks.push(chunk as Buffer)
    expect(Buffer.concat(chunks).toString()).toBe('x'.repeat(300_000))
  })

  it('refuses a binary frame on a legacy append with 1003, keeping the text that came before', async () => {
    const { port, root, logged } = await start()
    const session = await openRawSession(port, '/binaryframe', { 'X-Verb': 'APPEND' })
    session.send(
      frame({ opcode: OPCODE.text, payload: Buffer.from('text\n') }),
      frame({ opcode: OPCODE.binary, payload: Buffer.from([0, 1, 2]) }),
    )
    const closed = await session.closed
    expect(closed.code).toBe(1003)
    expect(closed.reason).toContain('fstream.v1')
    session.socket.destroy()
    expect(await readFile(join(root, 'binaryframe'), 'utf8')).toBe('text\n')
    expect(logged.filter((line) => line.includes('fstream.v1'))).toHaveLength(1)
  })

  it('stores text frames of any bytes exactly, as the original server did (not UTF-8 checked)', async () => {
    const { port, root } = await start()
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80])
    const session = await openRawSession(port, '/anybytes', { 'X-Verb': 'APPEND' })
    session.send(
      frame({ opcode: OPCODE.text, payload: Buffer.from('text\n') }),
      frame({ opcode: OPCODE.text, payload: bytes }),
      frame({ opcode: OPCODE.close, payload: closePayload(1000) }),
    )
    expect((await session.closed).code).toBe(1000)
    session.socket.destroy()
    expect(await readFile(join(root, 'anybytes'))).toEqual(
      Buffer.concat([Buffer.from('text\n'), bytes]),
    )
  })
})

describe('strict requests', () => {
  it('takes offsets of digits with an optional minus only, and refuses offsets past the end', async () => {
    const { port, root } = await start()
    await writeFile(join(root, 'r'), '0123456789')
    for (const offset of ['0x10', '+3', '', '1e3', '1.5', ' 3', '99999999999999999999']) {
      const path = `/r?offset=${encodeURIComponent(offset)}`
      expect(await refusal(port, path, v1), offset).toMatch(/^HTTP\/1.1 400/)
      expect(await refusal(port, path, append), offset).toMatch(/^HTTP\/1.1 400/)
    }
    expect(await refusal(port, '/r?verb=APPEND&offset=-1', v1)).toMatch(/^HTTP\/1.1 400/)
    expect(await refusal(port, '/r?offset=11', v1)).toMatch(/^HTTP\/1.1 416/)
    expect(await refusal(port, '/never?offset=5&wait=1', v1)).toMatch(/^HTTP\/1.1 416/)
    // The end itself is a fine place to start a live follow.
    const atEnd = await openRawSession(port, '/r?offset=10', v1)
    await expect.poll(() => atEnd.texts.length).toBe(1)
    expect(controls(atEnd.texts)[0]).toEqual({ type: 'ready', offset: 10 })
    expect((await atEnd.closed).code).toBe(1000)
    atEnd.socket.destroy()
  })

  it('answers names longer than a file name with 404 (GET, HEAD, FOLLOW) and 404 before APPEND', async () => {
    const { url, port } = await start()
    const long = 'a'.repeat(256)
    expect((await fetch(`${url}/${long}`)).status).toBe(404)
    expect((await fetch(`${url}/dir/${long}`, { method: 'HEAD' })).status).toBe(404)
    expect(await refusal(port, `/${long}`, v1)).toMatch(/^HTTP\/1.1 404/)
    expect(await refusal(port, `/${long}`, append)).toMatch(/^HTTP\/1.1 404/)
  })

  it('refuses raw and encoded dot segments instead of resolving them', async () => {
    const { url, port, root } = await start()
    await writeFile(join(root, 'b'), 'b')
    for (const path of ['/a/../b', '/./b', '/a/%2e%2e/b']) {
      // fetch() would normalise the path: send it raw.
      const socket = connect(port, '127.0.0.1')
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
      const [head] = (await once(socket, 'data')) as [Buffer]
      expect(head.toString().split('\r\n')[0], path).toBe('HTTP/1.1 404 Not Found')
      socket.destroy()
      expect(await refusal(port, path, append), path).toMatch(/^HTTP\/1.1 404/)
    }
    expect((await fetch(`${url}/b`)).status).toBe(200)
  })
})

describe('symbolic links in the data directory are never followed', () => {
  it('refuses GET, HEAD, FOLLOW and APPEND through a link to a file or a directory', async () => {
    const { url, port, root, outside } = await start()
    await writeFile(join(outside, 'secret'), 'outside the root')
    await mkdir(join(outside, 'elsewhere'))
    await symlink(join(outside, 'secret'), join(root, 'file-link'))
    await symlink(join(outside, 'elsewhere'), join(root, 'dir-link'))
    await symlink(join(root, 'real'), join(root, 'inside-link'))
    await writeFile(join(root, 'real'), 'inside')
    for (const path of ['/file-link', '/dir-link/new.log', '/inside-link']) {
      const get = await fetch(`${url}${path}`)
      expect(get.status, path).toBe(403)
      expect(await get.text()).not.toContain('outside the root')
      expect((await fetch(`${url}${path}`, { method: 'HEAD' })).status, path).toBe(403)
      expect(await refusal(port, path, v1), path).toMatch(/^HTTP\/1.1 403/)
      expect(await refusal(port, path, append), path).toMatch(/^HTTP\/1.1 403/)
    }
    // Nothing was written outside the root.
    expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('outside the root')
    expect(await readdir(join(outside, 'elsewhere'))).toEqual([])
  })
})

describe('conditional GETs', () => {
  it('honours If-Range, If-Modified-Since, If-None-Match and If-Match', async () => {
    const { url, root } = await start()
    await writeFile(join(root, 'c'), '0123456789')
    const first = await fetch(`${url}/c`)
    const etag = first.headers.get('etag') ?? ''
    const modified = first.headers.get('last-modified') ?? ''
    await first.arrayBuffer()
    const current = await fetch(`${url}/c`, { headers: { range: 'bytes=5-', 'if-range': etag } })
    expect(current.status).toBe(206)
    expect(await current.text()).toBe('56789')
    // A stale validator: the whole, current representation, never a splice of two versions.
    const stale = await fetch(`${url}/c`, { headers: { range: 'bytes=5-', 'if-range': '"old"' } })
    expect(stale.status).toBe(200)
    expect(await stale.text()).toBe('0123456789')
    expect((await fetch(`${url}/c`, { headers: { 'if-modified-since': modified } })).status).toBe(
      304,
    )
    expect((await fetch(`${url}/c`, { headers: { 'if-none-match': etag } })).status).toBe(304)
    expect((await fetch(`${url}/c`, { headers: { 'if-match': '"other"' } })).status).toBe(412)
  })
})

describe('slow clients', () => {
  it('closes connections whose headers do not arrive in time with 408', async () => {
    const { port } = await start({ headersTimeout: 500 })
    const sockets = Array.from({ length: 50 }, () => {
      const socket = connect(port, '127.0.0.1')
      socket.on('error', () => {})
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n')
      return socket
    })
    const answers = await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<string>((resolve) => {
            let text = ''
            socket.on('data', (chunk: Buffer) => {
              text += chunk.toString()
            })
            socket.on('close', () => resolve(text))
          }),
      ),
    )
    for (const text of answers) expect(text).toMatch(/^HTTP\/1.1 408 Request Timeout/)
  })
})
