import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import {
  cleanUpAfterTest,
  listen,
  missingTool,
  runCli,
  scrapeMetrics,
  tempDir,
} from '@sluice/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BACKENDS,
  backendMissing,
  closeBackends,
  type TestBackend,
  testBackend,
} from '../test/backends.js'
import { createFstreamServer } from './index.js'

const SOURCE = fileURLToPath(new URL('../test/httpfstream-client/main.go', import.meta.url))
let dir: Awaited<ReturnType<typeof tempDir>>
let client: string | undefined
let skipReason: string | undefined

beforeAll(async () => {
  dir = await tempDir('httpfstream-client-')
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
  await dir.remove()
  await closeBackends()
})

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.each(BACKENDS)(
  "httpfstream's own clients (their framing, on gorilla/websocket), %s storage",
  (backend) => {
    let server: Awaited<ReturnType<typeof listen>>
    let storage: TestBackend
    beforeAll(async () => {
      if (backendMissing(backend)) return
      storage = await testBackend(backend)
      server = await listen(createFstreamServer({ ...storage.options, log: () => {} }))
    }, 60_000)
    afterAll(async () => {
      await server?.close()
      await storage?.cleanup()
    })
    const followers = async () =>
      (await scrapeMetrics(`${server.url}/metrics`)).get('fstream_server_followers')
    const ws = (path: string) => `${server.url.replace('http', 'ws')}${path}`
    const stored = (path: string) => storage.stored(path).then((data) => data ?? Buffer.alloc(0))

    it('appends text and follows live: current content, then each append, until the appender leaves', async (context) => {
      if (client === undefined || backendMissing(backend)) {
        return context.skip(skipReason ?? backendMissing(backend))
      }
      await storage.seed('chat.log', 'earlier\n')
      const stdin = new PassThrough()
      const appending = runCli(client, ['append', ws('/chat.log')], {
        input: stdin,
        timeoutMs: 30_000,
      })
      stdin.write('first line\n')
      await expect
        .poll(() => stored('chat.log').then(String), { timeout: 10_000 })
        .toBe('earlier\nfirst line\n')
      const following = runCli(client, ['follow', ws('/chat.log')], { timeoutMs: 30_000 })
      await wait(300)
      stdin.write('second line\n')
      await expect
        .poll(() => stored('chat.log').then(String), { timeout: 10_000 })
        .toContain('second')
      stdin.end('third line\n')
      const [appended, followed] = await Promise.all([appending, following])
      expect(appended.code, appended.stderr).toBe(0)
      expect(appended.stderr).toContain('closed 1000')
      expect(followed.code, followed.stderr).toBe(0)
      const all = 'earlier\nfirst line\nsecond line\nthird line\n'
      expect(followed.stdout.toString()).toBe(all)
      expect(await stored('chat.log').then(String)).toBe(all)
    })

    it('follows a resource nobody appends to through a plain HTTP 200', async (context) => {
      if (client === undefined || backendMissing(backend)) {
        return context.skip(skipReason ?? backendMissing(backend))
      }
      await storage.seed('done.log', 'all of it\n')
      const followed = await runCli(client, ['follow', ws('/done.log')], { timeoutMs: 30_000 })
      expect(followed.code, followed.stderr).toBe(0)
      expect(followed.stdout.toString()).toBe('all of it\n')
    })

    it('follows 8 MiB of text streamed live, joining after the first line, byte-exact', async (context) => {
      if (client === undefined || backendMissing(backend)) {
        return context.skip(skipReason ?? backendMissing(backend))
      }
      const lines = Array.from({ length: 8 * 1024 }, (_, n) =>
        Buffer.from(`${String(n).padStart(6, '0')} ${'abcdefghijklmnopqrstuvwxyz'.repeat(40)}\n`),
      )
      const all = Buffer.concat(lines)
      expect(all.length).toBeGreaterThanOrEqual(8 * 1024 * 1024)
      const stdin = new PassThrough()
      const appending = runCli(client, ['append', ws('/big.log')], {
        input: stdin,
        timeoutMs: 120_000,
      })
      stdin.write(lines[0])
      await expect.poll(() => stored('big.log').then((data) => data.length)).toBe(lines[0]?.length)
      // A follower whose reader is slow at first (its output is not read until the appender is
      // done): it falls megabytes behind and catches up from the stored file, as in the report.
      const follower = spawn(client, ['follow', ws('/big.log')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      cleanUpAfterTest(() => follower.kill('SIGKILL'))
      follower.stdout.pause()
      let stderr = ''
      follower.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      const exited = once(follower, 'exit') as Promise<[number | null]>
      // The follower is in (the server counts it) before the rest streams.
      await expect.poll(() => followers()).toBe(1)
      for (let n = 1; n < lines.length; n += 256) {
        await new Promise<void>((resolve) =>
          stdin.write(Buffer.concat(lines.slice(n, n + 256)), () => resolve()),
        )
      }
      stdin.end()
      const appended = await appending
      expect(appended.code, appended.stderr).toBe(0)
      const received: Buffer[] = []
      follower.stdout.on('data', (chunk: Buffer) => received.push(chunk))
      follower.stdout.resume()
      const [code] = await exited
      expect(code, stderr).toBe(0)
      const followed = { stdout: Buffer.concat(received) }
      expect(followed.stdout.length).toBe(all.length)
      expect(sha256(followed.stdout)).toBe(sha256(all))
    })

    it('stores binary bytes sent as text frames exactly, and gives them back to legacy followers', async (context) => {
      if (client === undefined || backendMissing(backend)) {
        return context.skip(skipReason ?? backendMissing(backend))
      }
      const data = randomBytes(1024 * 1024)
      const stdin = new PassThrough()
      const appending = runCli(client, ['append', ws('/bytes.bin')], {
        input: stdin,
        timeoutMs: 60_000,
      })
      stdin.write(data.subarray(0, 1000))
      await expect.poll(() => stored('bytes.bin').then((data) => data.length)).toBe(1000)
      const following = runCli(client, ['follow', ws('/bytes.bin')], { timeoutMs: 60_000 })
      await expect.poll(() => followers()).toBe(1)
      stdin.end(data.subarray(1000))
      const [appended, live] = await Promise.all([appending, following])
      expect(appended.code, appended.stderr).toBe(0)
      expect(appended.stderr).toContain('closed 1000')
      expect(sha256(await stored('bytes.bin'))).toBe(sha256(data))
      expect(live.code, live.stderr).toBe(0)
      expect(sha256(live.stdout)).toBe(sha256(data))
      // Nobody appends now: the plain answer (gorilla's Dial keeps only 1 KiB of a refused
      // handshake's body, so the bytes are checked over HTTP here).
      const late = await fetch(`${server.url}/bytes.bin`)
      expect(late.status).toBe(200)
      expect(sha256(Buffer.from(await late.arrayBuffer()))).toBe(sha256(data))
    })
  },
)
