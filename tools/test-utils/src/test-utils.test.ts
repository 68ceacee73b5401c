import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { readFile, stat } from 'node:fs/promises'
import { createServer as createHttpServer, request } from 'node:http'
import { connect, createServer as createNetServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  listen,
  missingTool,
  payloadFile,
  runCli,
  samplePeakRss,
  startServerProcess,
  tempDir,
} from './index.js'

describe('listen', () => {
  it('serves HTTP on an ephemeral loopback port and closes despite a keep-alive connection', async () => {
    const server = createHttpServer((_req, res) => res.end('pong'))
    const listening = await listen(server)
    expect(listening.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(listening.port).toBeGreaterThan(0)

    // The whole answer first (however long a loaded machine takes), then close().
    const answered = new Promise<{ body: string; closed: Promise<unknown> }>((resolve, reject) => {
      const req = request(`${listening.url}/`, { headers: { connection: 'keep-alive' } }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ body, closed: once(req.socket as Socket, 'close') }))
      })
      req.on('error', reject)
      req.end()
    })
    const { body, closed } = await answered
    expect(body).toBe('pong')
    // The keep-alive socket stays open until close() destroys it.
    await listening.close()
    await closed
    expect(server.listening).toBe(false)
    await listening.close()
  })

  it('closes a raw TCP server with a half-open client', async () => {
    const server = createNetServer((socket) => socket.on('error', () => {}))
    const listening = await listen(server)
    const client = connect(listening.port, '127.0.0.1')
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()))
    client.on('error', () => {})
    await new Promise<void>((resolve) => client.once('connect', () => resolve()))
    await listening.close()
    await clientClosed
    expect(server.listening).toBe(false)
  })
})

describe('payloadFile', () => {
  it('writes exactly size random bytes and reports their digests', async () => {
    const dir = await tempDir()
    const size = 3 * (1 << 20) + 12345
    const file = await payloadFile(join(dir.path, 'p.bin'), size)
    expect((await stat(file.path)).size).toBe(size)
    const bytes = await readFile(file.path)
    expect(file.md5).toBe(createHash('md5').update(bytes).digest('hex'))
    expect(file.sha256).toBe(createHash('sha256').update(bytes).digest('hex'))
    const other = await payloadFile(join(dir.path, 'q.bin'), size)
    expect(other.md5).not.toBe(file.md5)
  })

  it('writes an empty file and rejects a negative size', async () => {
    const dir = await tempDir()
    const empty = await payloadFile(join(dir.path, 'empty'), 0)
    expect(empty.md5).toBe('d41d8cd98f00b204e9800998ecf8427e')
    await expect(payloadFile(join(dir.path, 'bad'), -1)).rejects.toThrow(RangeError)
  })

  it('rejects with the write error when the directory does not exist', async () => {
    await expect(payloadFile('/nonexistent-sluice-dir/x', 10)).rejects.toMatchObject({
      code: 'ENOENT',
    })
  })
})

describe('runCli', () => {
  it('feeds stdin, collects stdout/stderr and the exit code', async () => {
    const script =
      'process.stdin.pipe(process.stdout); process.stderr.write("err"); process.stdin.on("end", () => { process.exitCode = 3 })'
    const result = await runCli(process.execPath, ['-e', script], { input: 'hello' })
    expect(result.code).toBe(3)
    expect(result.stdout.toString()).toBe('hello')
    expect(result.stderr).toBe('err')
  })

  it('kills a child that outlives its timeout', async () => {
    const result = await runCli(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
      timeoutMs: 200,
    })
    expect(result.code).toBeNull()
    expect(result.signal).toBe('SIGKILL')
  })

  it('measures the peak RSS of a child that allocates 64 MiB', async () => {
    const script =
      'const b = Buffer.alloc(64 * 1024 * 1024, 1); setTimeout(() => console.log(b[0]), 2000)'
    const result = await runCli(process.execPath, ['-e', script], { measureRss: true })
    expect(result.stdout.toString().trim()).toBe('1')
    expect(result.peakRss).toBeGreaterThan(64 * 1024 * 1024)
  })
})

describe('samplePeakRss', () => {
  it('reads this process', () => {
    const sampler = samplePeakRss(process.pid)
    expect(sampler.stop()).toBeGreaterThan(1024 * 1024)
  })
})

describe('startServerProcess', () => {
  it('resolves with the URL a server CLI prints, and stop() returns its exit code', async () => {
    const script = `const s = require('node:http').createServer((q, r) => r.end('hi'));
      s.listen(0, '127.0.0.1', () => console.log('demo listening on http://127.0.0.1:' + s.address().port));
      process.once('SIGTERM', () => s.close(() => process.exit(0)))`
    const server = await startServerProcess(process.execPath, ['-e', script])
    expect(await (await fetch(server.url)).text()).toBe('hi')
    expect(server.output()).toContain('demo listening on')
    expect(await server.stop()).toBe(0)
  })

  it('rejects when the process exits before listening', async () => {
    await expect(startServerProcess(process.execPath, ['-e', 'process.exit(3)'])).rejects.toThrow(
      'exited with 3 before listening',
    )
  })

  it('rejects with the spawn error when the command does not exist', async () => {
    await expect(startServerProcess('sluice-no-such-command', [])).rejects.toMatchObject({
      code: 'ENOENT',
    })
  })
})

describe('missingTool', () => {
  const required = process.env['SLUICE_REQUIRE_TOOLS']
  afterEach(() => {
    if (required === undefined) delete process.env['SLUICE_REQUIRE_TOOLS']
    else process.env['SLUICE_REQUIRE_TOOLS'] = required
  })

  it('finds a tool that runs, names one that does not, and throws when tools are required', () => {
    expect(missingTool(process.execPath, ['--version'])).toBeUndefined()
    delete process.env['SLUICE_REQUIRE_TOOLS']
    expect(missingTool('sluice-no-such-tool')).toMatch(/^sluice-no-such-tool cannot run \(.*ENOENT/)
    expect(missingTool(process.execPath, ['-e', 'process.exit(3)'])).toMatch(/exited with 3$/)
    process.env['SLUICE_REQUIRE_TOOLS'] = '1'
    expect(() => missingTool('sluice-no-such-tool')).toThrow(/SLUICE_REQUIRE_TOOLS=1/)
  })
})
