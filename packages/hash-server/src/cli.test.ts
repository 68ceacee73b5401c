import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isRunning } from '@sluice/internal/fs'
import {
  checkCommandLineConventions,
  listen,
  runCli,
  type ServerProcess,
  scrapeMetrics,
  startServerProcess,
  tempDir,
} from '@sluice/test-utils'
import { afterEach, describe, expect, it } from 'vitest'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))
const servers: ServerProcess[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop()
})

async function startCli(args: string[]): Promise<ServerProcess> {
  const server = await startServerProcess(process.execPath, [BIN, ...args])
  servers.push(server)
  return server
}

describe('hash-server CLI', () => {
  it('prints help and exits 0', async () => {
    const result = await runCli(process.execPath, [BIN, '--help'])
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toContain('Usage: hash-server')
    expect(result.stdout.toString()).toContain('Exit codes')
  })

  it('exits 2 naming the problem on bad usage', async () => {
    for (const [args, message] of [
      [['--port', 'eighty'], '--port: "eighty" is not a TCP port'],
      [['--algorithm', 'md5,nope'], '--algorithm: unsupported "nope"'],
      [['--max-body-size', '12 parsecs'], '--max-body-size: "12 parsecs" is not a byte size'],
      [['--bogus'], 'unknown option --bogus'],
      [['--hash-threads', 'many'], '--hash-threads'],
      [['--tus-dir', '/tmp/x'], '--tus-dir needs --tus-path'],
      [['--tus-path', '/files/'], '--tus-path needs --tus-dir DIR'],
      [['--tus-path', 'files', '--tus-dir', '/tmp/x'], '--tus-path: "files" is not a path'],
      [['--tus-path', '/files/', '--tus-dir', '/tmp/x', '--workers', '2'], '(--workers 1)'],
      [['--tus-path', '/f/', '--tus-dir', '/tmp/x', '--tus-expire', '0'], '--tus-expire'],
      [['--token-file', '/nonexistent/token'], '--token-file: cannot read /nonexistent/token'],
    ] as const) {
      const result = await runCli(process.execPath, [BIN, ...args])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain(message)
    }
  })

  it('exits 1 when the port is taken, with --workers too, creating no store', async () => {
    const blocker = await listen(createServer())
    const dir = await tempDir('hash-busy-')
    try {
      for (const workers of ['1', '2']) {
        const store = join(dir.path, `store-${workers}`, 'data')
        const result = await runCli(process.execPath, [
          BIN,
          ...['--port', String(blocker.port), '--workers', workers, '--store', store],
        ])
        expect(result.code, result.stderr).toBe(1)
        expect(result.stderr).toContain(workers === '1' ? 'EADDRINUSE' : 'could not start')
        expect(existsSync(join(dir.path, `store-${workers}`))).toBe(false)
      }
    } finally {
      await blocker.close()
      await dir.remove()
    }
  })

  it('serves with the chosen algorithm and limit, and exits 0 on SIGTERM', async () => {
    const cli = await startCli(['--port', '0', '--algorithm', 'sha256', '--max-body-size', '1k'])
    const { url } = cli
    const ok = await fetch(url, { method: 'POST', body: 'abc' })
    expect(await ok.text()).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n',
    )
    const big = await fetch(url, { method: 'POST', body: 'x'.repeat(1025) })
    expect(big.status).toBe(413)
    expect(await cli.stop()).toBe(0)
  })

  it('hashes on the request thread with --hash-threads 0, and on one thread with 1', async () => {
    const body = randomBytes(3 * 1024 * 1024 + 5)
    const expected = `${createHash('md5').update(body).digest('hex')}\n`
    for (const threads of ['0', '1']) {
      const cli = await startCli(['--port', '0', '--algorithm', 'md5', '--hash-threads', threads])
      const res = await fetch(cli.url, { method: 'POST', body })
      expect([res.status, await res.text()], threads).toEqual([200, expected])
      expect(await cli.stop()).toBe(0)
    }
  })

  it('serves tus under --tus-path with --token from a file, keeping uploads in STORE/.tus', async () => {
    const dir = await tempDir('hash-tus-cli-')
    const tokenFile = join(dir.path, 'token')
    await writeFile(tokenFile, 'letmein\n')
    const store = join(dir.path, 'store')
    const cli = await startCli([
      ...['--port', '0', '--store', store, '--tus-path', '/up/', '--token-file', tokenFile],
    ])
    const headers = { 'Tus-Resumable': '1.0.0', 'Upload-Length': '5' }
    expect((await fetch(`${cli.url}/up/`, { method: 'POST', headers })).status).toBe(401)
    const created = await fetch(`${cli.url}/up/`, {
      method: 'POST',
      headers: { ...headers, Authorization: 'Bearer letmein' },
    })
    expect(created.status).toBe(201)
    const id = (created.headers.get('location') ?? '').replace('/up/', '')
    expect(existsSync(join(store, '.tus', `${id}.json`))).toBe(true)
    const done = await fetch(`${cli.url}/up/${id}`, {
      method: 'PATCH',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': '0',
        'Content-Type': 'application/offset+octet-stream',
        Authorization: 'Bearer letmein',
      },
      body: 'hello',
    })
    expect([done.status, done.headers.get('content-location')]).toEqual([
      204,
      '/md5/5d41402abc4b2a76b9719d911017c592',
    ])
    expect(await readFile(join(store, 'md5', '5d41402abc4b2a76b9719d911017c592'), 'utf8')).toBe(
      'hello',
    )
    expect(await cli.stop()).toBe(0)
  })

  it('runs several workers on one port', async () => {
    const cli = await startCli(['--port', '0', '--workers', '2'])
    const { url, output } = cli
    expect(output()).toContain('(2 workers)')
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        fetch(url, { method: 'POST', body: 'hello' }).then((r) => r.text()),
      ),
    )
    expect(new Set(answers)).toEqual(new Set(['5d41402abc4b2a76b9719d911017c592\n']))
    expect(await cli.stop()).toBe(0)
  })
})

describe('the command line conventions', () => {
  it('holds for hash-server', { timeout: 120_000 }, async () => {
    await checkCommandLineConventions({
      command: [process.execPath, BIN],
      name: 'hash-server',
      portFlag: '--port',
      sizeFlag: '--max-body-size',
      dataFlag: '--store',
    })
  })
})

describe('operations', () => {
  /** One POST on a connection of its own: with --workers, connections go round the workers. */
  function postAlone(url: string, body: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(`${url}/`, { method: 'POST', agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.end(body)
    })
  }

  it("sums every worker's counters in /metrics with --workers, and writes an access log", async () => {
    const dir = await tempDir('hash-ops-')
    const log = join(dir.path, 'access.log')
    const server = await startServerProcess(process.execPath, [
      BIN,
      '--port',
      '0',
      '--workers',
      '2',
      '--access-log',
      log,
    ])
    for (let i = 0; i < 20; i++) expect(await postAlone(server.url, 'x')).toBe(200)
    // Whichever worker answers the scrape, it shows the whole server (a worker that answers the
    // primary after 2 s is left out of that scrape: on a loaded machine, ask again).
    for (let i = 0; i < 4; i++) {
      await expect
        .poll(async () => {
          const metrics = await scrapeMetrics(`${server.url}/metrics`)
          return [
            metrics.get('hash_server_requests_total{method="POST",status="200"}'),
            metrics.get('hash_server_hashed_bytes_total'),
          ]
        })
        .toEqual([20, 20])
    }
    // Each worker appends its own lines to the file.
    const posts = async () =>
      (await readFile(log, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line))
        .filter((entry) => entry.method === 'POST')
    await expect.poll(async () => (await posts()).length).toBe(20)
    for (const entry of await posts()) {
      expect(entry).toMatchObject({ path: '/', status: 200, bytesIn: 1, remote: '127.0.0.1' })
      expect(entry.bytesOut).toBeGreaterThan(33)
      expect(Date.parse(entry.time)).not.toBeNaN()
      expect(typeof entry.durationMs).toBe('number')
    }
  })

  /**
   * `hash-server --workers 2` with a preload in its workers: each notes its pid in `started` when
   * it loads and in `listening` once it listens, and throws on SIGUSR2 as a bug would (uncaught:
   * exit code 1). With `replacementFails`, a worker started after two have listened throws as it
   * loads.
   */
  async function crashingWorkers(dir: string, replacementFails = false) {
    const started = join(dir, 'started')
    const listening = join(dir, 'listening')
    const preload = join(dir, 'crashing-workers.cjs')
    await writeFile(
      preload,
      `const cluster = require('node:cluster')
const fs = require('node:fs')
const net = require('node:net')
const note = (file) => fs.appendFileSync(file, process.pid + '\\n')
if (cluster.isWorker) {
  note(${JSON.stringify(started)})
  const listened = fs.existsSync(${JSON.stringify(listening)}) ? fs.readFileSync(${JSON.stringify(listening)}, 'utf8').split('\\n').length - 1 : 0
  if (${replacementFails} && listened >= 2) throw new Error('this replacement cannot start')
  const listen = net.Server.prototype.listen
  net.Server.prototype.listen = function (...args) {
    this.once('listening', () => note(${JSON.stringify(listening)}))
    return listen.apply(this, args)
  }
  process.on('SIGUSR2', () => { throw new Error('injected crash') })
}
`,
    )
    const pids = (file: string) => async () =>
      (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number)
    const workers = { started: pids(started), listening: pids(listening) }
    // Two workers on a store made by this start, one body stored, both listening.
    const store = join(dir, 'new', 'store')
    const cli = await startServerProcess(
      process.execPath,
      [BIN, '--port', '0', '--workers', '2', '--store', store],
      { NODE_OPTIONS: `--require ${preload}` },
    )
    expect(await postAlone(cli.url, 'hello')).toBe(201)
    await expect.poll(async () => (await workers.listening()).length).toBe(2)
    return { ...workers, cli, store }
  }

  async function expectStored(url: string, times: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      const res = await fetch(`${url}/md5/5d41402abc4b2a76b9719d911017c592`, {
        headers: { Connection: 'close' },
      })
      expect([res.status, await res.text()]).toEqual([200, 'hello'])
    }
  }

  it('replaces a --workers worker that crashes after serving, keeping the store it created', async () => {
    const dir = await tempDir('hash-crash-')
    try {
      const { cli, store, ...workers } = await crashingWorkers(dir.path)
      const [crashing] = await workers.listening()
      process.kill(crashing as number, 'SIGUSR2')
      // Its replacement listens (forked once the crashed one has exited).
      await expect.poll(async () => (await workers.listening()).length).toBe(3)
      await expectStored(cli.url, 4)
      expect(await cli.stop()).toBe(0)
      expect(await readFile(join(store, 'md5', '5d41402abc4b2a76b9719d911017c592'), 'utf8')).toBe(
        'hello',
      )
    } finally {
      await dir.remove()
    }
  })

  it('serves on with the other --workers when a replacement cannot start, without retrying it', async () => {
    const dir = await tempDir('hash-crash-')
    try {
      const { cli, store, ...workers } = await crashingWorkers(dir.path, true)
      const [crashing, staying] = await workers.listening()
      process.kill(crashing as number, 'SIGUSR2')
      await expect.poll(async () => (await workers.started()).length).toBe(3)
      await expect.poll(() => isRunning(crashing as number)).toBe(false)
      expect(isRunning(staying as number)).toBe(true)
      await expectStored(cli.url, 4)
      // Stopped by a signal: 0, and the replacement was tried once.
      expect(await cli.stop()).toBe(0)
      expect((await workers.started()).length).toBe(3)
      expect(existsSync(join(store, 'md5', '5d41402abc4b2a76b9719d911017c592'))).toBe(true)
    } finally {
      await dir.remove()
    }
  })
})
