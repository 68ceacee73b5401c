import { once } from 'node:events'
import { mkdir, writeFile } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  checkCommandLineConventions,
  cleanUpAfterTest,
  listen,
  missingNatsServer,
  runCli,
  startNats,
  startServerProcess,
  tempDir,
} from '@sluice/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createFstreamServer, PROTOCOL } from './index.js'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))
let dir: Awaited<ReturnType<typeof tempDir>>
let root: string
const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256))

beforeAll(async () => {
  dir = await tempDir('fstream-server-')
  root = join(dir.path, 'root')
  await mkdir(join(root, 'logs'), { recursive: true })
  await writeFile(join(root, 'logs', 'app.log'), bytes)
  await writeFile(join(dir.path, 'secret'), 'outside the root')
})
afterAll(() => dir.remove())

describe('plain GET/HEAD of stored resources', () => {
  it('answers the content byte-exact, with Range and HEAD', async () => {
    const server = await listen(createFstreamServer({ root }))
    try {
      const res = await fetch(`${server.url}/logs/app.log`)
      expect(res.status).toBe(200)
      expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes)
      const range = await fetch(`${server.url}/logs/app.log`, { headers: { range: 'bytes=256-' } })
      expect(range.status).toBe(206)
      expect(Buffer.from(await range.arrayBuffer())).toEqual(bytes.subarray(256))
      const head = await fetch(`${server.url}/logs/app.log`, { method: 'HEAD' })
      expect(head.headers.get('content-length')).toBe('300')
    } finally {
      await server.close()
    }
  })

  it('answers 404 for never-written resources, directories and escapes; 405 for other methods', async () => {
    const server = await listen(createFstreamServer({ root }))
    try {
      for (const path of [
        '/nope',
        '/logs',
        '/logs/',
        '/',
        '/../secret',
        '/logs/%2e%2e/%2e%2e/secret',
        '/logs%2f..%2f..%2fsecret',
      ]) {
        const res = await fetch(`${server.url}${path}`)
        expect(res.status, path).toBe(404)
        expect(await res.text()).not.toContain('outside the root')
      }
      const post = await fetch(`${server.url}/logs/app.log`, { method: 'POST', body: 'x' })
      expect(post.status).toBe(405)
      expect(post.headers.get('allow')).toBe('GET, HEAD, DELETE')
    } finally {
      await server.close()
    }
  })
})

describe('fstream-server CLI', () => {
  it('serves --root and stops on SIGTERM with exit 0', async () => {
    const cli = await startServerProcess(process.execPath, [BIN, '--root', root, '--port', '0'])
    const res = await fetch(`${cli.url}/logs/app.log`)
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    const code = await cli.stop()
    expect(code).toBe(0)
  })

  it('exits 2 without a storage, with two, or with a --nats that is not a NATS URL', async () => {
    for (const [args, message] of [
      [[], 'give --root DIR or --nats URLS (one of them)'],
      [['--root', dir.path, '--nats', 'nats://127.0.0.1:1'], 'give --root DIR or --nats URLS'],
      [['--nats', 'http://x'], '--nats: "http://x" is not a NATS URL'],
      [
        ['--nats', 'nats://127.0.0.1:1', '--nats-replicas', '0'],
        '--nats-replicas: "0" is less than 1',
      ],
    ] as const) {
      const run = await runCli(process.execPath, [BIN, ...args])
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stderr).toContain(message)
    }
  })

  it('exits 1 with one line when NATS cannot be reached', async () => {
    const run = await runCli(process.execPath, [BIN, '--nats', 'nats://127.0.0.1:1', '--port', '0'])
    expect(run.code).toBe(1)
    const lines = run.stderr.trim().split('\n')
    expect(lines, run.stderr).toHaveLength(1)
    expect(lines[0]).toMatch(/^fstream-server: cannot start: --nats nats:\/\/127\.0\.0\.1:1: /)
  })
})

describe('NATS gone while the server runs', () => {
  it('answers sessions and GETs with 500 and the reason, keeps serving, and recovers', {
    timeout: 120_000,
  }, async (context) => {
    const missing = missingNatsServer()
    if (missing) return context.skip(missing)
    const nats = await startNats(1)
    cleanUpAfterTest(() => nats.stop())
    const server = await startServerProcess(process.execPath, [
      ...[
        BIN,
        '--nats',
        nats.urls.join(','),
        '--nats-stream',
        `GONE_${process.pid}`,
        '--port',
        '0',
      ],
    ])
    cleanUpAfterTest(() => server.stop())
    const refusal = async (path: string) => {
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}${path}`, PROTOCOL)
      ws.on('error', () => {})
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage]
      const chunks: Buffer[] = []
      for await (const chunk of res) chunks.push(chunk as Buffer)
      ws.terminate()
      return { status: res.statusCode, reason: Buffer.concat(chunks).toString() }
    }
    expect(await refusal('/logs/never.log')).toMatchObject({ status: 404 })
    await nats.nodes[0]?.kill()
    // Every request gets its one answer, naming the storage, while the others are served.
    const [follow, append, get, health] = await Promise.all([
      refusal('/logs/never.log'),
      refusal('/logs/new.log?verb=APPEND'),
      fetch(`${server.url}/logs/never.log`),
      fetch(`${server.url}/health`),
    ])
    for (const answer of [follow, append]) {
      expect(answer.status).toBe(500)
      expect(answer.reason).toMatch(/^cannot open the resource: /)
    }
    expect(get.status).toBe(500)
    expect(await get.text()).toMatch(/^cannot read the resource: /)
    expect(health.status).toBe(200)
    await nats.nodes[0]?.restart()
    await expect
      .poll(async () => (await refusal('/logs/never.log')).status, { timeout: 60_000 })
      .toBe(404)
  })
})

describe('the command line conventions', () => {
  it('holds for fstream-server', { timeout: 120_000 }, async () => {
    await checkCommandLineConventions({
      command: [process.execPath, BIN],
      name: 'fstream-server',
      args: ['--root', root],
      portFlag: '--port',
      sizeFlag: '--max-size',
      dataFlag: '--root',
    })
  })
})
