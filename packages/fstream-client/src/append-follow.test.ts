import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { getEventListeners, once } from 'node:events'
import { open, writeFile } from 'node:fs/promises'
import { createServer as createNetServer } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { createFstreamServer } from '@sluice/fstream-server'
import { checkCommandLineConventions, listen, runCli, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { append, follow, openAppend } from './index.js'

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')
const APPEND_BIN = fileURLToPath(new URL('../bin/fstream-append.js', import.meta.url))
const FOLLOW_BIN = fileURLToPath(new URL('../bin.js', import.meta.url))

async function start() {
  const dir = await tempDir('fstream-client-ws-')
  const server = await listen(createFstreamServer({ root: dir.path }))
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

  it('appends byte-exact with a zero masking key (zeroMask)', async () => {
    const { url } = await start()
    const data = randomBytes(2 * 1024 * 1024 + 3)
    expect(await append(`${url}/zero`, chunks(data, 256 * 1024), { zeroMask: true })).toBe(
      data.length,
    )
    expect(sha256(await collect(follow(`${url}/zero`)))).toBe(sha256(data))
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

describe('follow with reconnect', () => {
  it('resumes after the server restarts, with no gap and no duplicate', async () => {
    const dir = await tempDir('fstream-reconnect-')
    const first = await listen(createFstreamServer({ root: dir.path }))
    const { port } = first
    const part1 = randomBytes(500_000)
    const part2 = randomBytes(300_000)
    const appender = openAppend(`${first.url}/log`)
    appender.on('error', () => {})
    appender.write(part1)
    await expect
      .poll(async () =>
        (await fetch(`${first.url}/log`, { method: 'HEAD' })).headers.get('content-length'),
      )
      .toBe(String(part1.length))

    const received: Buffer[] = []
    const following = follow(`${first.url}/log`, { reconnect: true })
    following.on('data', (chunk: Buffer) => received.push(chunk))
    const ended = new Promise<void>((resolve, reject) => {
      following.once('end', resolve)
      following.once('error', reject)
    })
    await expect
      .poll(() => received.reduce((sum, chunk) => sum + chunk.length, 0))
      .toBe(part1.length)
    await first.close()

    // The same root, as after a restart. The new appender is connected (and has appended) before
    // the old port answers again, so the follower's retry finds the resource being appended.
    const restarted = createFstreamServer({ root: dir.path })
    const second = await listen(restarted)
    const resumed = openAppend(`${second.url}/log`, { offset: part1.length })
    resumed.on('error', () => {})
    resumed.write(part2.subarray(0, 100_000))
    await expect
      .poll(async () =>
        (await fetch(`${second.url}/log`, { method: 'HEAD' })).headers.get('content-length'),
      )
      .toBe(String(part1.length + 100_000))
    await listen(
      createNetServer((socket) => restarted.emit('connection', socket)),
      '127.0.0.1',
      port,
    )
    const total = () => received.reduce((sum, chunk) => sum + chunk.length, 0)
    // The follower's retries back off up to 5 s while the port is closed.
    await expect.poll(total, { timeout: 20_000 }).toBe(part1.length + 100_000)
    resumed.end(part2.subarray(100_000))
    await new Promise((resolve, reject) => resumed.once('finish', resolve).once('error', reject))
    await ended
    expect(sha256(Buffer.concat(received))).toBe(sha256(Buffer.concat([part1, part2])))
  })
})

describe('fstream-append and fstream-follow CLIs', () => {
  it('appends a file given as stdin (read 256 KiB at a time) byte-exact', async () => {
    const { url } = await start()
    const data = randomBytes(3 * 1024 * 1024 + 7)
    const input = join((await tempDir('fstream-input-')).path, 'input.bin')
    await writeFile(input, data)
    const file = await open(input)
    const child = spawn(process.execPath, [APPEND_BIN, '-v', `${url}/cli/from-file`], {
      stdio: [file.fd, 'ignore', 'pipe'],
    })
    await file.close()
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const [code] = (await once(child, 'exit')) as [number | null]
    expect(code, stderr).toBe(0)
    expect(stderr).toBe(`fstream-append: the resource is ${data.length} bytes, all acknowledged\n`)
    const followed = await runCli(process.execPath, [FOLLOW_BIN, `${url}/cli/from-file`])
    expect(sha256(followed.stdout)).toBe(sha256(data))
  })

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
    // A negative offset as the option's own value, as the README shows it.
    const tail = await runCli(process.execPath, [FOLLOW_BIN, '--offset', '-1000', `${url}/cli/log`])
    expect(tail.code, tail.stderr).toBe(0)
    expect(tail.stdout.equals(data.subarray(data.length - 1000))).toBe(true)
    const conflict = await runCli(
      process.execPath,
      [APPEND_BIN, '--offset', '5', `${url}/cli/log`],
      { input: 'x' },
    )
    expect(conflict.code).toBe(5)
    expect(conflict.stderr).toContain('conflict (409)')
    const past = await runCli(process.execPath, [
      FOLLOW_BIN,
      '--offset',
      '999999',
      `${url}/cli/log`,
    ])
    expect(past.code).toBe(6)
    expect(past.stderr).toBe(
      `fstream-follow: ${url.replace('http:', 'ws:')}/cli/log?offset=999999: offset past the end of the resource (416): the resource is ${data.length} bytes: offset 999999 does not exist yet\n`,
    )
    const more = randomBytes(70_000)
    const zero = await runCli(
      process.execPath,
      [APPEND_BIN, '--zero-mask', '--offset', String(data.length), `${url}/cli/log`],
      { input: more },
    )
    expect(zero.code).toBe(0)
    const all = await runCli(process.execPath, [FOLLOW_BIN, `${url}/cli/log`])
    expect(sha256(all.stdout)).toBe(sha256(Buffer.concat([data, more])))
  }, 30_000)
})

describe('CLI tokens', () => {
  it('come from --token-file or FSTREAM_TOKEN, never only from the command line', async () => {
    const dir = await tempDir('fstream-client-token-')
    const server = await listen(
      createFstreamServer({ root: dir.path, appendToken: 'append-secret', followToken: 'read-it' }),
    )
    const tokenFile = join(dir.path, '.token')
    await writeFile(tokenFile, 'append-secret\n')
    const refused = await runCli(process.execPath, [APPEND_BIN, `${server.url}/t.log`], {
      input: 'x',
    })
    expect(refused.code).toBe(4)
    const appended = await runCli(
      process.execPath,
      [APPEND_BIN, '--token-file', tokenFile, `${server.url}/t.log`],
      { input: 'line\n' },
    )
    expect(appended.code, appended.stderr).toBe(0)
    const followed = await runCli(process.execPath, [FOLLOW_BIN, `${server.url}/t.log`], {
      env: { FSTREAM_TOKEN: 'read-it' },
    })
    expect(followed.code, followed.stderr).toBe(0)
    expect(followed.stdout.toString()).toBe('line\n')
    const missing = await runCli(process.execPath, [
      FOLLOW_BIN,
      '--token-file',
      join(dir.path, 'absent'),
      `${server.url}/t.log`,
    ])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('--token-file: cannot read')
  })
})

describe('the command line conventions', () => {
  it('holds for fstream-append and fstream-follow', { timeout: 120_000 }, async () => {
    for (const [bin, name] of [
      [APPEND_BIN, 'fstream-append'],
      [FOLLOW_BIN, 'fstream-follow'],
    ] as const) {
      await checkCommandLineConventions({
        command: [process.execPath, bin],
        name,
        args: ['http://127.0.0.1:1/r'],
      })
    }
  })
})
