import { createHash, randomBytes } from 'node:crypto'
import { getEventListeners } from 'node:events'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { createFstreamServer } from '@sluice/fstream-server'
import { listen, runCli, tempDir } from '@sluice/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { append, follow, openAppend } from './index.js'

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')
const APPEND_BIN = fileURLToPath(new URL('../bin/fstream-append.js', import.meta.url))
const FOLLOW_BIN = fileURLToPath(new URL('../bin.js', import.meta.url))
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.()
})

async function start() {
  const dir = await tempDir('fstream-client-ws-')
  cleanups.push(dir.remove)
  const server = await listen(createFstreamServer({ root: dir.path }))
  cleanups.push(server.close)
  return server
}

function* chunks(data: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size)
    yield data.subarray(offset, offset + size)
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

describe('append and follow', () => {
  it('round-trips binary data byte-exact to live and late followers', async () => {
    const { url } = await start()
    const chunks = Array.from({ length: 40 }, (_, i) => randomBytes(5000 + i * 4000))
    const all = Buffer.concat(chunks)
    const live = collect(follow(`${url}/data/bin`, { wait: true }))
    expect(await append(`${url}/data/bin`, chunks)).toBe(all.length)
    expect(sha256(await live)).toBe(sha256(all))
    expect(sha256(await collect(follow(`${url}/data/bin`)))).toBe(sha256(all))
    expect(
      (await collect(follow(`${url}/data/bin`, { offset: -10 }))).equals(all.subarray(-10)),
    ).toBe(true)
    expect(await append(`${url}/data/bin`, ['more'], { offset: all.length })).toBe(all.length + 4)
  })

  it('openAppend is a Writable that finishes once the server acknowledged every byte', async () => {
    const { url } = await start()
    const data = randomBytes(3 * 1024 * 1024 + 17)
    const writable = openAppend(`${url}/w`)
    await pipeline(Readable.from(chunks(data, 100_000)), writable)
    expect(writable.size).toBe(data.length)
    expect(sha256(await collect(follow(`${url}/w`)))).toBe(sha256(data))
    const second = openAppend(`${url}/w`, { offset: 1 })
    await expect(pipeline(Readable.from([Buffer.from('x')]), second)).rejects.toMatchObject({
      code: 'FSTREAM_ERR_CONFLICT',
    })
  })

  it('fails with stable codes: 404, 409, connection', async () => {
    const { url } = await start()
    await expect(collect(follow(`${url}/never`))).rejects.toMatchObject({
      code: 'FSTREAM_ERR_NOT_FOUND',
    })
    await append(`${url}/r`, ['abc'])
    await expect(append(`${url}/r`, ['x'], { offset: 1 })).rejects.toMatchObject({
      code: 'FSTREAM_ERR_CONFLICT',
      status: 409,
    })
    await expect(append('http://127.0.0.1:1/x', ['x'])).rejects.toMatchObject({
      code: 'FSTREAM_ERR_CONNECTION',
    })
  })

  it('aborts with a signal and leaves no listener on it', async () => {
    const { url } = await start()
    const controller = new AbortController()
    async function* endless() {
      for (;;) {
        yield randomBytes(1000)
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    }
    const appending = append(`${url}/endless`, endless(), { signal: controller.signal })
    setTimeout(() => controller.abort(), 100)
    await expect(appending).rejects.toThrow()
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })
})

describe('fstream-append and fstream-follow CLIs', () => {
  it('appends stdin and follows it to stdout', async () => {
    const { url } = await start()
    const data = randomBytes(200_000)
    const appended = await runCli(process.execPath, [APPEND_BIN, '-v', `${url}/cli/log`], {
      input: data,
    })
    expect(appended.stderr).toBe(
      `fstream-append: the resource is ${data.length} bytes, all acknowledged\n`,
    )
    expect(appended.code).toBe(0)
    const followed = await runCli(process.execPath, [FOLLOW_BIN, `${url}/cli/log`])
    expect(followed.code).toBe(0)
    expect(sha256(followed.stdout)).toBe(sha256(data))
    const conflict = await runCli(
      process.execPath,
      [APPEND_BIN, '--offset', '5', `${url}/cli/log`],
      { input: 'x' },
    )
    expect(conflict.code).toBe(5)
    expect(conflict.stderr).toContain('conflict (409)')
  })
})
