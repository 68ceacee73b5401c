import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { listen, scrapeMetrics, startServerProcess, tempDir } from '@sluice/test-utils'
import { afterAll, describe, expect, it } from 'vitest'
import { BACKENDS, backendMissing, closeBackends, testBackend } from '../test/backends.js'
import { appendAll, connect, followAll } from '../test/sessions.js'
import { createFstreamServer, type FstreamServerOptions } from './index.js'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))

async function start(options: Partial<FstreamServerOptions> = {}) {
  const dir = await tempDir('fstream-ops-')
  const server = await listen(createFstreamServer({ root: dir.path, ...options }))
  return { ...server, root: dir.path, ws: server.url.replace('http', 'ws') }
}

const refusalOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 0,
    (error: { status?: number }) => error.status ?? -1,
  )

describe('health and metrics', () => {
  it('answers the health check, and refuses other methods there', async () => {
    const { url } = await start()
    const health = await fetch(`${url}/health`)
    expect(health.status).toBe(200)
    expect(health.headers.get('cache-control')).toBe('no-store')
    expect(await health.text()).toBe('ok\n')
    const post = await fetch(`${url}/metrics`, { method: 'POST', body: 'x' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
  })

  it('counts appenders, followers, bytes both ways, sessions by close code and refusals', async () => {
    const { url, ws } = await start({ maxPayload: 4096 })
    const metrics = () => scrapeMetrics(`${url}/metrics`)
    const appender = await connect(`${ws}/logs/app.log`, { 'x-verb': 'APPEND' })
    const follower = await connect(`${ws}/logs/app.log`)
    let now = await metrics()
    expect(now.get('fstream_server_appending_resources')).toBe(1)
    expect(now.get('fstream_server_followers')).toBe(1)
    const followed = followAll(follower)
    expect(await appendAll(appender, [Buffer.alloc(600, 1), Buffer.alloc(400, 2)])).toBe(1000)
    const { bytes, code } = await followed
    expect(code).toBe(1000)
    expect(bytes.length).toBe(1000)

    // Refusals: no such resource, a conflict, a missing token elsewhere is tested below.
    expect(await refusalOf(connect(`${ws}/logs/none.log`))).toBe(404)
    expect(await refusalOf(connect(`${ws}/logs/app.log?offset=5000`))).toBe(416)
    // A violation closes only that session, with its code.
    const oversized = await connect(`${ws}/logs/big.log`, { 'x-verb': 'APPEND' })
    oversized.send(Buffer.alloc(5000))
    const [closed] = (await once(oversized, 'close')) as [number]
    expect(closed).toBe(1009)

    await expect.poll(async () => (await metrics()).get('fstream_server_followers')).toBe(0)
    now = await metrics()
    expect(now.get('fstream_server_appending_resources')).toBe(0)
    expect(now.get('fstream_server_appended_bytes_total')).toBe(1000)
    expect(now.get('fstream_server_followed_bytes_total')).toBe(1000)
    expect(now.get('fstream_server_sessions_total{verb="APPEND",code="1000"}')).toBe(1)
    expect(now.get('fstream_server_sessions_total{verb="FOLLOW",code="1000"}')).toBe(1)
    expect(now.get('fstream_server_sessions_total{verb="APPEND",code="1009"}')).toBe(1)
    expect(now.get('fstream_server_refusals_total{verb="FOLLOW",status="404"}')).toBe(1)
    expect(now.get('fstream_server_refusals_total{verb="FOLLOW",status="416"}')).toBe(1)
    expect(now.get('fstream_server_requests_total{method="GET",status="101"}')).toBe(3)
    expect(now.get('fstream_server_requests_total{method="GET",status="404"}')).toBe(1)
    // Session bytes count as the connection's: the follower got its 1000 bytes and the frames.
    expect(now.get('fstream_server_sent_bytes_total')).toBeGreaterThan(1000)
    expect(now.get('fstream_server_received_bytes_total')).toBeGreaterThan(6000)
  })

  it('serves the reports on other paths when told, leaving those paths to resources', async () => {
    const { url, root } = await start({ healthPath: '/_/health', metricsPath: '/_/metrics' })
    await writeFile(join(root, 'health'), 'a resource\n')
    expect(await (await fetch(`${url}/_/health`)).text()).toBe('ok\n')
    expect((await scrapeMetrics(`${url}/_/metrics`)).has('fstream_server_followers')).toBe(true)
    expect(await (await fetch(`${url}/health`)).text()).toBe('a resource\n')
  })
})

describe.each(BACKENDS)('tokens, %s storage', (backend) => {
  afterAll(() => closeBackends())
  it('answers a session or GET without its token with 401 and WWW-Authenticate, and counts it', async (context) => {
    const missing = backendMissing(backend)
    if (missing) return context.skip(missing)
    const storage = await testBackend(backend)
    const server = await listen(
      createFstreamServer({ ...storage.options, appendToken: 'a-secret', followToken: 'f-secret' }),
    )
    const { url } = server
    const ws = url.replace('http', 'ws')
    const refused = await fetch(`${url}/x.log`)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="fstream-server"')
    expect(await refusalOf(connect(`${ws}/x.log`, { 'x-verb': 'APPEND' }))).toBe(401)
    expect(
      await refusalOf(
        connect(`${ws}/x.log`, { 'x-verb': 'APPEND', authorization: 'Bearer f-secret' }),
      ),
    ).toBe(401)
    const appender = await connect(`${ws}/x.log`, {
      'x-verb': 'APPEND',
      authorization: 'Bearer a-secret',
    })
    expect(await appendAll(appender, [Buffer.from('line\n')])).toBe(5)
    expect(await (await fetch(`${url}/x.log?token=f-secret`)).text()).toBe('line\n')
    const now = await scrapeMetrics(`${url}/metrics`)
    expect(now.get('fstream_server_refusals_total{verb="APPEND",status="401"}')).toBe(2)
    expect(now.get('fstream_server_requests_total{method="GET",status="401"}')).toBe(3)
    await server.close()
    await storage.cleanup()
  })
})

describe('CLI', () => {
  it('reads tokens from a file and the environment, and logs requests and sessions', async () => {
    const dir = await tempDir('fstream-ops-cli-')
    const tokenFile = join(dir.path, 'append-token')
    await writeFile(tokenFile, 'from-file\n')
    const log = join(dir.path, 'access.log')
    const cli = await startServerProcess(
      process.execPath,
      [BIN, '--root', dir.path, '--port', '0', '--token-file', tokenFile, '--access-log', log],
      { FSTREAM_FOLLOW_TOKEN: 'from-env' },
    )
    const ws = cli.url.replace('http', 'ws')
    expect(await refusalOf(connect(`${ws}/a.log?token=from-env`, { 'x-verb': 'APPEND' }))).toBe(401)
    const appender = await connect(`${ws}/a.log?token=from-file`, { 'x-verb': 'APPEND' })
    expect(await appendAll(appender, [Buffer.from('hello\n')])).toBe(6)
    expect((await fetch(`${cli.url}/a.log`)).status).toBe(401)
    const read = await fetch(`${cli.url}/a.log`, { headers: { authorization: 'Bearer from-env' } })
    expect(await read.text()).toBe('hello\n')
    expect(await cli.stop()).toBe(0)

    const entries = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(entries.map((entry) => entry.status)).toEqual([401, 101, 401, 200])
    const session = entries[1]
    // The query (which carried the token) is never logged.
    expect(session).toMatchObject({ method: 'GET', path: '/a.log', remote: '127.0.0.1' })
    expect(session.bytesIn).toBeGreaterThan(6)
    expect(JSON.stringify(entries)).not.toContain('from-')
    await dir.remove()
  })
})
