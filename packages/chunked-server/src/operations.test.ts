import { readFile, writeFile } from 'node:fs/promises'
import { type ClientRequest, request } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { listen, runCli, scrapeMetrics, startServerProcess, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { type ChunkedServerOptions, createChunkedServer } from './index.js'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))

async function start(options: Partial<ChunkedServerOptions> = {}) {
  const dir = await tempDir('chunked-ops-')
  const server = createChunkedServer({ root: dir.path, ...options })
  return { ...(await listen(server)), dir: dir.path }
}

/** A chunked PUT kept open until `end()`. */
function openUpload(url: string): { req: ClientRequest; status: Promise<number> } {
  const req = request(url, { method: 'PUT', headers: { 'transfer-encoding': 'chunked' } })
  req.on('error', () => {})
  const status = new Promise<number>((resolve) =>
    req.on('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    }),
  )
  return { req, status }
}

describe('content types', () => {
  it("infers what ffmpeg does not send from the key's extension, and keeps what an upload says", async () => {
    const { url } = await start()
    const expected: Record<string, string> = {
      'live/a.m3u8': 'application/vnd.apple.mpegurl',
      'live/a.ts': 'video/mp2t',
      'live/a.m4s': 'video/mp4',
      'live/init.mp4': 'video/mp4',
      'dash/a.mpd': 'application/dash+xml',
      'subs/a.vtt': 'text/vtt; charset=utf-8',
      'audio/a.aac': 'audio/aac',
      'audio/a.m4a': 'audio/mp4',
      'data/blob': 'application/octet-stream',
      'data/x.unknownext': 'application/octet-stream',
    }
    for (const key of Object.keys(expected)) {
      // A Buffer body: fetch sets no Content-Type, as ffmpeg does not.
      const put = await fetch(`${url}/${key}`, { method: 'PUT', body: Buffer.from('x') })
      expect(put.status, key).toBe(201)
    }
    for (const [key, type] of Object.entries(expected)) {
      expect((await fetch(`${url}/${key}`)).headers.get('content-type'), key).toBe(type)
    }
    await fetch(`${url}/said.ts`, {
      method: 'PUT',
      body: Buffer.from('x'),
      headers: { 'content-type': 'application/x-custom' },
    })
    expect((await fetch(`${url}/said.ts`)).headers.get('content-type')).toBe('application/x-custom')
  })

  it('gives a live object its inferred type too', async () => {
    const { url } = await start()
    const upload = openUpload(`${url}/live/seg.m4s`)
    upload.req.write('part')
    await expect
      .poll(async () => (await fetch(`${url}/live/seg.m4s`, { method: 'HEAD' })).status)
      .toBe(200)
    const res = await fetch(`${url}/live/seg.m4s`)
    expect(res.headers.get('content-type')).toBe('video/mp4')
    // Live, the upload's headers are already those of the object: no length, no validator yet.
    expect(res.headers.get('content-length')).toBeNull()
    expect(res.headers.get('etag')).toBeNull()
    upload.req.end()
    expect(await res.text()).toBe('part')
    expect(await upload.status).toBe(201)
  })
})

describe('write and read tokens', () => {
  it('asks for the write token on PUT, POST and DELETE with 401 and WWW-Authenticate; GET stays open', async () => {
    const { url } = await start({ writeToken: 'w-secret' })
    for (const method of ['PUT', 'POST', 'DELETE']) {
      const res = await fetch(`${url}/a.ts`, {
        method,
        ...(method === 'DELETE' ? {} : { body: 'x' }),
      })
      expect(res.status, method).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="chunked-server"')
      expect(await res.text()).toContain('a valid bearer token is needed to write')
    }
    const wrong = await fetch(`${url}/a.ts`, {
      method: 'PUT',
      body: 'x',
      headers: { authorization: 'Bearer w-secreT' },
    })
    expect(wrong.status).toBe(401)
    expect((await fetch(`${url}/a.ts`)).status).toBe(404)

    const put = await fetch(`${url}/a.ts`, {
      method: 'PUT',
      body: 'segment',
      headers: { authorization: 'Bearer w-secret' },
    })
    expect(put.status).toBe(201)
    // A client that cannot set headers (a browser form, some encoders) may use ?token=.
    expect((await fetch(`${url}/b.ts?token=w-secret`, { method: 'PUT', body: 'b' })).status).toBe(
      201,
    )
    expect(await (await fetch(`${url}/a.ts`)).text()).toBe('segment')
    expect((await fetch(`${url}/a.ts`, { method: 'DELETE' })).status).toBe(401)
    expect(await (await fetch(`${url}/a.ts`)).text()).toBe('segment')
  })

  it('asks for the read token on GET and HEAD when one is set, but never for the health check', async () => {
    const { url } = await start({ readToken: 'r-secret', writeToken: 'w-secret' })
    const auth = (token: string) => ({ authorization: `Bearer ${token}` })
    await fetch(`${url}/a.ts`, { method: 'PUT', body: 'x', headers: auth('w-secret') })
    for (const method of ['GET', 'HEAD']) {
      const res = await fetch(`${url}/a.ts`, { method })
      expect(res.status, method).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="chunked-server"')
    }
    // The write token is not a read token.
    expect((await fetch(`${url}/a.ts`, { headers: auth('w-secret') })).status).toBe(401)
    expect(await (await fetch(`${url}/a.ts`, { headers: auth('r-secret') })).text()).toBe('x')
    expect((await fetch(`${url}/a.ts?token=r-secret`)).status).toBe(200)
    expect((await fetch(`${url}/health`)).status).toBe(200)
    expect((await fetch(`${url}/metrics`)).status).toBe(200)
  })
})

describe('health and metrics', () => {
  it('answers the health check, and refuses writes to the report paths', async () => {
    const { url } = await start()
    const health = await fetch(`${url}/health`)
    expect(health.status).toBe(200)
    expect(health.headers.get('cache-control')).toBe('no-store')
    expect(await health.text()).toBe('ok\n')
    const put = await fetch(`${url}/metrics`, { method: 'PUT', body: 'x' })
    expect(put.status).toBe(405)
    expect(put.headers.get('allow')).toBe('GET, HEAD')
  })

  it('counts GETs by state and prefix, live readers, waiting GETs, uploads and bytes', async () => {
    const { url } = await start({ waitMs: 5000 })
    const metrics = () => scrapeMetrics(`${url}/metrics`)
    await fetch(`${url}/vod/done.ts`, { method: 'PUT', body: Buffer.alloc(1000) })
    await (await fetch(`${url}/vod/done.ts`)).arrayBuffer()
    expect((await fetch(`${url}/vod/none.ts`, { headers: { expires: 'in=0' } })).status).toBe(404)

    const waiting = fetch(`${url}/live/next.ts`)
    await expect.poll(async () => (await metrics()).get('chunked_server_waiting_requests')).toBe(1)
    const upload = openUpload(`${url}/live/next.ts`)
    upload.req.write('first')
    const waited = await waiting
    expect(waited.status).toBe(200)
    const live = await fetch(`${url}/live/next.ts`)
    let now = await metrics()
    expect(now.get('chunked_server_waiting_requests')).toBe(0)
    expect(now.get('chunked_server_live_objects')).toBe(1)
    expect(now.get('chunked_server_live_readers')).toBe(2)
    upload.req.end(' second')
    expect(await upload.status).toBe(201)
    expect(await waited.text()).toBe('first second')
    expect(await live.text()).toBe('first second')

    const aborted = openUpload(`${url}/live/cut.ts`)
    aborted.req.write('half')
    await expect.poll(async () => (await metrics()).get('chunked_server_live_objects')).toBe(1)
    aborted.req.destroy()
    await expect.poll(async () => (await metrics()).get('chunked_server_live_objects')).toBe(0)

    now = await metrics()
    expect(now.get('chunked_server_gets_total{state="finished",prefix="/vod"}')).toBe(1)
    expect(now.get('chunked_server_gets_total{state="missing",prefix="/vod"}')).toBe(1)
    expect(now.get('chunked_server_gets_total{state="waited",prefix="/live"}')).toBe(1)
    expect(now.get('chunked_server_gets_total{state="live",prefix="/live"}')).toBe(1)
    expect(now.get('chunked_server_live_readers')).toBe(0)
    expect(now.get('chunked_server_uploads_total{outcome="stored"}')).toBe(2)
    expect(now.get('chunked_server_uploads_total{outcome="CHUNKED_ERR_UPLOAD_ABORTED"}')).toBe(1)
    expect(now.get('chunked_server_ingested_bytes_total')).toBe(1012)
    expect(now.get('chunked_server_requests_total{method="PUT",status="201"}')).toBe(2)
    expect(now.get('chunked_server_requests_total{method="GET",status="404"}')).toBe(1)
    expect(now.get('chunked_server_received_bytes_total')).toBeGreaterThanOrEqual(1016)
    expect(now.get('chunked_server_sent_bytes_total')).toBeGreaterThanOrEqual(1000 + 2 * 12)
  })

  it('serves the reports on other paths when told, leaving those keys to objects', async () => {
    const { url } = await start({ healthPath: '/_ops/health', metricsPath: '/_ops/metrics' })
    expect(await (await fetch(`${url}/_ops/health`)).text()).toBe('ok\n')
    expect((await scrapeMetrics(`${url}/_ops/metrics`)).has('chunked_server_live_objects')).toBe(
      true,
    )
    expect((await fetch(`${url}/metrics`, { method: 'PUT', body: 'an object' })).status).toBe(201)
    expect(await (await fetch(`${url}/metrics`)).text()).toBe('an object')
  })
})

describe('CLI', () => {
  it('reads tokens from the environment and from files, and writes an access log', async () => {
    const dir = await tempDir('chunked-ops-cli-')
    const tokenFile = join(dir.path, 'read-token')
    await writeFile(tokenFile, 'from-file\n')
    const log = join(dir.path, 'access.log')
    const cli = await startServerProcess(
      process.execPath,
      [BIN, '-i', '0', '-p', join(dir.path, 'content'), '--read-token-file', tokenFile],
      { CHUNKED_WRITE_TOKEN: 'from-env' },
    )
    const serverWithLog = await startServerProcess(process.execPath, [
      BIN,
      '-i',
      '0',
      '-p',
      join(dir.path, 'content2'),
      '--access-log',
      log,
    ])
    const { url } = cli
    expect((await fetch(`${url}/a.ts`, { method: 'PUT', body: 'x' })).status).toBe(401)
    const put = await fetch(`${url}/a.ts`, {
      method: 'PUT',
      body: 'x',
      headers: { authorization: 'Bearer from-env' },
    })
    expect(put.status).toBe(201)
    expect((await fetch(`${url}/a.ts`)).status).toBe(401)
    // The file's trailing newline is not part of the token.
    const read = await fetch(`${url}/a.ts`, { headers: { authorization: 'Bearer from-file' } })
    expect(await read.text()).toBe('x')

    await fetch(`${serverWithLog.url}/logged/a.ts?x=1`, { method: 'PUT', body: 'hello' })
    await (await fetch(`${serverWithLog.url}/logged/a.ts`)).text()
    expect(await serverWithLog.stop()).toBe(0)
    const entries = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(entries).toHaveLength(2)
    expect(entries[0]).toMatchObject({
      method: 'PUT',
      path: '/logged/a.ts',
      status: 201,
      bytesIn: 5,
      remote: '127.0.0.1',
    })
    expect(entries[1]).toMatchObject({ method: 'GET', path: '/logged/a.ts', status: 200 })
    expect(entries[1].bytesOut).toBeGreaterThanOrEqual(5)
    expect(await cli.stop()).toBe(0)
    await dir.remove()
  })

  it('names a token file it cannot read, and exits 2', async () => {
    const run = await runCli(process.execPath, [BIN, '--token-file', '/nonexistent/token'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('/nonexistent/token')
  })

  it('names where an empty token came from: the flag, the file or the environment', async () => {
    const dir = await tempDir('chunked-empty-token-')
    const empty = join(dir.path, 'empty')
    await writeFile(empty, '\n')
    const cases = [
      [['--token', ''], {}, 'chunked-server: --token: the secret is empty'],
      [['--token-file', empty], {}, `chunked-server: --token-file ${empty}: the secret is empty`],
      [
        ['--read-token-file', empty],
        {},
        `chunked-server: --read-token-file ${empty}: the secret is empty`,
      ],
      [
        [],
        { CHUNKED_WRITE_TOKEN: '' },
        'chunked-server: CHUNKED_WRITE_TOKEN (environment): the secret is empty',
      ],
    ] as const
    for (const [args, env, message] of cases) {
      const run = await runCli(process.execPath, [BIN, '-p', join(dir.path, 'content'), ...args], {
        env: { ...process.env, ...env },
      })
      expect(run.code, message).toBe(2)
      expect(run.stderr.split('\n')[0]).toBe(message)
    }
    await dir.remove()
  })
})
