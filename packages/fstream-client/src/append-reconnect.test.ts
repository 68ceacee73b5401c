import { createHash, randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { runCli, type ServerProcess, startServerProcess, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')
const APPEND_BIN = fileURLToPath(new URL('../bin/fstream-append.js', import.meta.url))
const SERVER_BIN = fileURLToPath(
  new URL('../node_modules/@sluice/fstream-server/bin.js', import.meta.url),
)

async function serve(root: string, port = 0): Promise<ServerProcess> {
  const server = await startServerProcess(process.execPath, [
    SERVER_BIN,
    '--root',
    root,
    '--port',
    String(port),
  ])
  return server
}

/** Resolves once the server holds at least `bytes` of the resource. */
async function stored(url: string, bytes: number): Promise<void> {
  await expect
    .poll(
      async () => Number((await fetch(url, { method: 'HEAD' })).headers.get('content-length') ?? 0),
      { timeout: 20_000 },
    )
    .toBeGreaterThanOrEqual(bytes)
}

const MiB = 1024 * 1024

describe('fstream-append --reconnect', () => {
  for (const [how, signal] of [
    ['crashes (SIGKILL)', 'SIGKILL'],
    ['restarts (SIGTERM, close 1001)', 'SIGTERM'],
  ] as const) {
    it(`survives a server that ${how}: no loss, no duplicate`, { timeout: 90_000 }, async () => {
      const dir = await tempDir('fstream-append-reconnect-')
      let server = await serve(dir.path)
      const port = Number(new URL(server.url).port)
      const resource = `${server.url}/log`
      const data = randomBytes(6 * MiB)
      const stdin = new PassThrough()
      const appending = runCli(process.execPath, [APPEND_BIN, '--reconnect', '-v', resource], {
        input: stdin,
        timeoutMs: 80_000,
      })
      stdin.write(data.subarray(0, 2 * MiB))
      await stored(resource, MiB)
      server.child.kill(signal)
      await new Promise((resolve) => server.child.once('exit', resolve))
      // Written while the server is down: kept by the appender, sent once it is back.
      stdin.write(data.subarray(2 * MiB, 3 * MiB))
      server = await serve(dir.path, port)
      stdin.end(data.subarray(3 * MiB))
      const result = await appending
      expect(result.code, result.stderr).toBe(0)
      expect(result.stderr).toContain(`the resource is ${data.length} bytes, all acknowledged`)
      const body = Buffer.from(await (await fetch(resource)).arrayBuffer())
      expect(body.length).toBe(data.length)
      expect(sha256(body)).toBe(sha256(data))
    })
  }

  it('without --reconnect, fails loudly (exit 1) when the server goes away', {
    timeout: 60_000,
  }, async () => {
    const dir = await tempDir('fstream-append-noreconnect-')
    const server = await serve(dir.path)
    const stdin = new PassThrough()
    const appending = runCli(process.execPath, [APPEND_BIN, `${server.url}/log`], {
      input: stdin,
      timeoutMs: 50_000,
    })
    stdin.write(randomBytes(MiB))
    await stored(`${server.url}/log`, MiB)
    server.child.kill('SIGKILL')
    stdin.end(randomBytes(MiB))
    const result = await appending
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/fstream-append: .*(append session ended|cannot connect)/)
  })
})
