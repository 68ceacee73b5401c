import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { listen, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { appendAll, connect, followAll } from '../test/sessions.js'
import { createFstreamServer, type FstreamServerOptions } from './index.js'

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

async function start(options: Partial<FstreamServerOptions> = {}) {
  const dir = await tempDir('fstream-ws-')
  const server = await listen(createFstreamServer({ root: dir.path, ...options }))
  return { ...server, root: dir.path, ws: server.url.replace('http', 'ws') }
}

/** A WebSocket without subprotocol (httpfstream's clients), recording text messages. */
function connectLegacy(url: string, headers: Record<string, string> = {}) {
  return new Promise<WebSocket & { texts: string[] }>((resolve, reject) => {
    const ws = Object.assign(new WebSocket(url, { headers, perMessageDeflate: false }), {
      texts: [] as string[],
    })
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) ws.texts.push(data.toString())
    })
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

describe('legacy mode (no subprotocol, httpfstream framing)', () => {
  it('appends text messages and follows with content, an empty message, then each append', async () => {
    const { ws, root } = await start()
    await writeFile(join(root, 'chat.log'), 'earlier\n')
    const appender = await connectLegacy(`${ws}/chat.log`, { 'x-verb': 'APPEND' })
    const follower = await connectLegacy(`${ws}/chat.log`)
    await expect.poll(() => follower.texts.length).toBe(2)
    expect(follower.texts).toEqual(['earlier\n', ''])
    appender.send('hello\n')
    await expect.poll(() => follower.texts.join('')).toBe('earlier\nhello\n')
    appender.send('world\n')
    await expect.poll(() => follower.texts.join('')).toBe('earlier\nhello\nworld\n')
    expect(appender.texts).toEqual([])
    const closed = once(follower, 'close')
    appender.close(1000)
    const [code] = (await closed) as [number]
    expect(code).toBe(1000)
    expect(await readFile(join(root, 'chat.log'), 'utf8')).toBe('earlier\nhello\nworld\n')
  })

  it('sends a large current content in messages of 32 KiB at most, then an empty one', async () => {
    const { ws, root } = await start()
    const big = 'x'.repeat(300_000)
    await writeFile(join(root, 'big.log'), big)
    const appender = await connectLegacy(`${ws}/big.log`, { 'x-verb': 'APPEND' })
    const follower = await connectLegacy(`${ws}/big.log`)
    // ceil(300,000 / 32,768) = 10 messages, then the empty one that ends the current content.
    await expect.poll(() => follower.texts.length).toBe(11)
    expect(follower.texts.at(-1)).toBe('')
    expect(follower.texts.slice(0, -1).every((text) => text.length <= 32 * 1024)).toBe(true)
    expect(follower.texts.join('')).toBe(big)
    const closed = once(follower, 'close')
    appender.close(1000)
    const [code] = (await closed) as [number]
    expect(code).toBe(1000)
  })
})

describe('APPEND and FOLLOW (fstream.v1)', () => {
  it('gives live, late and offset followers every binary byte, then closes 1000', async () => {
    const { ws, url } = await start()
    const live = await connect(`${ws}/logs/app.bin?wait=1`)
    const following = followAll(live)
    const appender = await connect(`${ws}/logs/app.bin`, { 'x-verb': 'APPEND' })
    const chunks = Array.from({ length: 30 }, (_, i) => randomBytes(1000 + i * 3000))
    const all = Buffer.concat(chunks)
    expect(await appendAll(appender, chunks)).toBe(all.length)
    const result = await following
    expect(result.code).toBe(1000)
    expect(sha256(result.bytes)).toBe(sha256(all))

    const late = await followAll(await connect(`${ws}/logs/app.bin`))
    expect(sha256(late.bytes)).toBe(sha256(all))
    const tail = await followAll(await connect(`${ws}/logs/app.bin?offset=-100`))
    expect(tail.bytes.equals(all.subarray(all.length - 100))).toBe(true)
    const from = await followAll(await connect(`${ws}/logs/app.bin?offset=5000`))
    expect(from.bytes.equals(all.subarray(5000))).toBe(true)

    const plain = await fetch(`${url}/logs/app.bin`)
    expect(sha256(Buffer.from(await plain.arrayBuffer()))).toBe(sha256(all))
  })

  it('never misses an appender who starts while a ?wait=1 follower is being set up', async () => {
    // A waiting FOLLOW, then the APPEND of its path a moment later (0 to 3 ms), many times over:
    // however the two interleave on the server, the follower gets every byte and a clean close.
    const { ws } = await start()
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
    const pair = async (i: number) => {
      const data = randomBytes(1000 + i)
      const follower = connect(`${ws}/race/${i}?wait=1`).then(followAll)
      await pause(i % 4)
      const appender = await connect(`${ws}/race/${i}`, { 'x-verb': 'APPEND' })
      await appendAll(appender, [data])
      const result = await Promise.race([follower, pause(10_000).then(() => undefined)])
      return { i, code: result?.code, same: result?.bytes.equals(data) }
    }
    const results = []
    for (let batch = 0; batch < 40; batch++) {
      results.push(...(await Promise.all([0, 1, 2, 3, 4].map((j) => pair(batch * 5 + j)))))
    }
    expect(results.filter((r) => r.code !== 1000 || !r.same)).toEqual([])
  })

  it('refuses a second appender with 409 before the upgrade, and ?verb=APPEND works too', async () => {
    const { ws } = await start()
    const first = await connect(`${ws}/one?verb=APPEND`)
    await expect(connect(`${ws}/one`, { 'x-verb': 'APPEND' })).rejects.toMatchObject({
      status: 409,
    })
    expect(await appendAll(first, [Buffer.from('data')])).toBe(4)
    const second = await connect(`${ws}/one`, { 'x-verb': 'APPEND' })
    expect(await appendAll(second, [Buffer.from('more')])).toBe(8)
  })

  it('resumes only at the exact length with ?offset=N', async () => {
    const { ws, root } = await start()
    await writeFile(join(root, 'r'), 'abc')
    await expect(connect(`${ws}/r?verb=APPEND&offset=2`)).rejects.toMatchObject({ status: 409 })
    const resumed = await connect(`${ws}/r?verb=APPEND&offset=3`)
    expect(await appendAll(resumed, [Buffer.from('def')])).toBe(6)
    expect(await readFile(join(root, 'r'), 'utf8')).toBe('abcdef')
  })

  it('answers 404 to FOLLOW of a resource never written, 400 to another subprotocol', async () => {
    const { ws } = await start()
    await expect(connect(`${ws}/never`)).rejects.toMatchObject({ status: 404 })
    const other = new WebSocket(`${ws}/never`, 'chat')
    other.on('error', () => {})
    const [, res] = (await once(other, 'unexpected-response')) as [unknown, { statusCode: number }]
    expect(res.statusCode).toBe(400)
    other.terminate()
  })

  it('keeps the appender at full speed while a follower is stalled', async () => {
    const { ws } = await start()
    const stalledSocket = await connect(`${ws}/busy?wait=1`)
    // The stalled follower never reads: its TCP window fills, the server stops sending to it.
    ;(stalledSocket as unknown as { _socket: { pause(): void } })._socket.pause()
    const appender = await connect(`${ws}/busy`, { 'x-verb': 'APPEND' })
    const chunks = Array.from({ length: 64 }, () => randomBytes(256 * 1024))
    const started = Date.now()
    expect(await appendAll(appender, chunks)).toBe(16 * 1024 * 1024)
    // Blocked by the stalled follower it would never finish; slow fsyncs under load take seconds.
    expect(Date.now() - started).toBeLessThan(30_000)
    const healthy = await followAll(await connect(`${ws}/busy`))
    expect(sha256(healthy.bytes)).toBe(sha256(Buffer.concat(chunks)))
    stalledSocket.terminate()
  })

  it('keeps acknowledged data across a server restart mid-stream', async () => {
    const dir = await tempDir('fstream-restart-')
    const first = await listen(createFstreamServer({ root: dir.path }))
    const ws1 = first.url.replace('http', 'ws')
    const appender = await connect(`${ws1}/stream?verb=APPEND`)
    const acked: number[] = []
    appender.on('message', (data) =>
      acked.push((JSON.parse(data.toString()) as { offset: number }).offset),
    )
    const part = randomBytes(300_000)
    appender.send(part)
    while (!acked.includes(part.length)) await once(appender, 'message')
    appender.on('error', () => {})
    await first.close()

    const second = await listen(createFstreamServer({ root: dir.path }))
    const ws2 = second.url.replace('http', 'ws')
    const resumed = await connect(`${ws2}/stream?verb=APPEND&offset=${part.length}`)
    const more = randomBytes(1000)
    expect(await appendAll(resumed, [more])).toBe(part.length + more.length)
    const all = await followAll(await connect(`${ws2}/stream`))
    expect(sha256(all.bytes)).toBe(sha256(Buffer.concat([part, more])))
  })

  it('requires tokens when set, by header or query', async () => {
    const { ws, url, root } = await start({ appendToken: 'w', followToken: 'r' })
    await mkdir(join(root, 'd'))
    await writeFile(join(root, 'd', 'f'), 'x')
    await expect(connect(`${ws}/d/f?verb=APPEND`)).rejects.toMatchObject({ status: 401 })
    const appender = await connect(`${ws}/d/f?verb=APPEND`, { authorization: 'Bearer w' })
    expect(await appendAll(appender, [Buffer.from('y')])).toBe(2)
    await expect(connect(`${ws}/d/f`)).rejects.toMatchObject({ status: 401 })
    expect((await followAll(await connect(`${ws}/d/f?token=r`))).bytes.toString()).toBe('xy')
    expect((await fetch(`${url}/d/f`)).status).toBe(401)
    expect(await (await fetch(`${url}/d/f?token=r`)).text()).toBe('xy')
  })

  it('closes an append past the size limit with 1009, keeping what was acknowledged', async () => {
    const { ws, root } = await start({ maxResourceSize: 10 })
    const appender = await connect(`${ws}/small?verb=APPEND`)
    appender.send(Buffer.from('12345'))
    while (!appender.control.some((m) => m.type === 'ack')) await once(appender, 'message')
    appender.send(Buffer.from('678901'))
    const [code] = (await once(appender, 'close')) as [number]
    expect(code).toBe(1009)
    expect(await readFile(join(root, 'small'), 'utf8')).toBe('12345')
  })
})

describe('DELETE', () => {
  it('deletes with the append token: the appender and live followers end with 4410, then 404', async () => {
    const { url, ws, root } = await start({ appendToken: 'secret' })
    const auth = { authorization: 'Bearer secret' }
    const appender = await connect(`${ws}/gone.log`, { 'x-verb': 'APPEND', ...auth })
    appender.send(Buffer.from('some lines\n'))
    await expect.poll(() => appender.control.some((message) => message.type === 'ack')).toBe(true)
    const follower = await connect(`${ws}/gone.log`)
    const followed = followAll(follower)
    const appenderClosed = once(appender, 'close') as Promise<[number, Buffer]>
    expect((await fetch(`${url}/gone.log`, { method: 'DELETE' })).status).toBe(401)
    const deleted = await fetch(`${url}/gone.log`, { method: 'DELETE', headers: auth })
    expect(deleted.status).toBe(204)
    const [code, reason] = await appenderClosed
    expect([code, reason.toString()]).toEqual([4410, 'the resource was deleted'])
    const result = await followed
    expect(result.code).toBe(4410)
    expect(result.bytes.toString()).toBe('some lines\n')
    expect((await fetch(`${url}/gone.log`)).status).toBe(404)
    await expect(readFile(join(root, 'gone.log'))).rejects.toThrow(/ENOENT/)
    expect((await fetch(`${url}/gone.log`, { method: 'DELETE', headers: auth })).status).toBe(404)
    // The path takes a new appender, from zero.
    const next = await connect(`${ws}/gone.log`, { 'x-verb': 'APPEND', ...auth })
    expect(await appendAll(next, [Buffer.from('again\n')])).toBe(6)
  })
})
