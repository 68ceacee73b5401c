import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { listen, missingTool, runCli, tempDir } from '@sluice/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFstreamServer } from './index.js'

const SOURCE = fileURLToPath(new URL('../test/httpfstream-client/main.go', import.meta.url))
let dir: Awaited<ReturnType<typeof tempDir>>
let client: string | undefined
let skipReason: string | undefined
let server: Awaited<ReturnType<typeof listen>>
let root: string

beforeAll(async () => {
  dir = await tempDir('httpfstream-client-')
  root = dir.path
  server = await listen(createFstreamServer({ root, log: () => {} }))
  skipReason = missingTool('go', ['version'])
  if (skipReason) return
  // Debian's golang-github-gorilla-websocket-dev, in GOPATH mode: no module download.
  const out = join(dir.path, 'httpfstream-client')
  const build = spawnSync('go', ['build', '-o', out, SOURCE], {
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: '/usr/share/gocode',
      GOCACHE: join(dir.path, 'gocache'),
    },
    encoding: 'utf8',
  })
  if (build.status !== 0) {
    skipReason = `the httpfstream-like Go client does not build (gorilla/websocket missing?): ${build.stderr}`
    if (process.env['SLUICE_REQUIRE_TOOLS'] === '1') throw new Error(skipReason)
    console.warn(`skipping: ${skipReason}`)
    return
  }
  client = out
}, 120_000)
afterAll(async () => {
  await server.close()
  await dir.remove()
})

const ws = (path: string) => `${server.url.replace('http', 'ws')}${path}`
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("httpfstream's own clients (their framing, on gorilla/websocket)", () => {
  it('appends text and follows live: current content, then each append, until the appender leaves', async (context) => {
    if (client === undefined) return context.skip(skipReason)
    await writeFile(join(root, 'chat.log'), 'earlier\n')
    const stdin = new PassThrough()
    const appending = runCli(client, ['append', ws('/chat.log')], {
      input: stdin,
      timeoutMs: 30_000,
    })
    stdin.write('first line\n')
    await expect
      .poll(() => readFile(join(root, 'chat.log'), 'utf8'), { timeout: 10_000 })
      .toBe('earlier\nfirst line\n')
    const following = runCli(client, ['follow', ws('/chat.log')], { timeoutMs: 30_000 })
    await wait(300)
    stdin.write('second line\n')
    await expect
      .poll(() => readFile(join(root, 'chat.log'), 'utf8'), { timeout: 10_000 })
      .toContain('second')
    stdin.end('third line\n')
    const [appended, followed] = await Promise.all([appending, following])
    expect(appended.code, appended.stderr).toBe(0)
    expect(appended.stderr).toContain('closed 1000')
    expect(followed.code, followed.stderr).toBe(0)
    const all = 'earlier\nfirst line\nsecond line\nthird line\n'
    expect(followed.stdout.toString()).toBe(all)
    expect(await readFile(join(root, 'chat.log'), 'utf8')).toBe(all)
  })

  it('follows a resource nobody appends to through a plain HTTP 200', async (context) => {
    if (client === undefined) return context.skip(skipReason)
    await writeFile(join(root, 'done.log'), 'all of it\n')
    const followed = await runCli(client, ['follow', ws('/done.log')], { timeoutMs: 30_000 })
    expect(followed.code, followed.stderr).toBe(0)
    expect(followed.stdout.toString()).toBe('all of it\n')
  })

  it('gets a clean 1003 refusal for binary data, keeping the text sent before', async (context) => {
    if (client === undefined) return context.skip(skipReason)
    const stdin = new PassThrough()
    const appending = runCli(client, ['append', ws('/mixed.log')], {
      input: stdin,
      timeoutMs: 30_000,
    })
    stdin.write('text first\n')
    await expect
      .poll(() => readFile(join(root, 'mixed.log'), 'utf8').catch(() => ''), {
        timeout: 10_000,
      })
      .toBe('text first\n')
    stdin.end(Buffer.concat([Buffer.from([0xff, 0xfe, 0x00]), randomBytes(4096)]))
    const appended = await appending
    expect(appended.code).toBe(3)
    expect(appended.stderr).toMatch(/closed 1003 binary data needs the fstream\.v1 subprotocol/)
    expect(await readFile(join(root, 'mixed.log'), 'utf8')).toBe('text first\n')
    // The server goes on: the resource is free for the next appender.
    const again = await runCli(client, ['append', ws('/mixed.log')], {
      input: 'more\n',
      timeoutMs: 30_000,
    })
    expect(again.code, again.stderr).toBe(0)
    expect(await readFile(join(root, 'mixed.log'), 'utf8')).toBe('text first\nmore\n')
  })
})
