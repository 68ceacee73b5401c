import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import {
  freePort,
  missingSwift,
  missingTool,
  payloadFile,
  runCli,
  type ServerProcess,
  samplePeakRss,
  scrapeMetrics,
  seededRandom,
  startCuttingProxy,
  startServerProcess,
  tempDir,
} from '@sluice/test-utils'
import * as tus from 'tus-js-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type SwiftBucket, startSwiftBucket } from '../test/swift.js'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))
// multipart-client's command line from its sources (it depends on hash-server for its own tests,
// so hash-server cannot depend on its build).
const UPLOAD_CLI = fileURLToPath(new URL('../../multipart-client/src/cli.ts', import.meta.url))
const UPLOAD = [
  ...['--import', 'tsx', '--input-type=module', '-e'],
  'const { main } = await import(process.argv[1]); await main(process.argv.slice(2))',
  UPLOAD_CLI,
]
const MiB = 1024 * 1024
const missing = missingSwift() ?? missingTool('curl')

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex')

let s3: SwiftBucket | undefined
let buckets = 0
beforeAll(async () => {
  if (!missing) s3 = await startSwiftBucket()
}, 120_000)
afterAll(async () => {
  await s3?.stop()
})

function swift(): SwiftBucket {
  if (s3 === undefined) throw new Error('no Swift')
  return s3
}

/** Credentials and region as a user sets them: the AWS SDK's environment variables. */
function awsEnv(): Record<string, string> {
  const { credentials, region } = swift().swift
  return {
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_REGION: region,
    // The SDK's notice that its releases from 2027 need Node 22 (one more stderr paragraph on 20).
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  }
}

function s3Args(bucket: string): string[] {
  return [
    ...['--store', `s3://${bucket}/uploads`, '--s3-endpoint', swift().swift.endpoint],
    ...['--s3-path-style', '--s3-max-parts', '1000'],
  ]
}

async function startCli(bucket: string, extra: string[] = []): Promise<ServerProcess> {
  return startServerProcess(
    process.execPath,
    [BIN, '--port', '0', ...s3Args(bucket), ...extra],
    awsEnv(),
  )
}

/** The SHA-256 of an object, streamed from the bucket with the SDK (not through hash-server). */
async function objectSha256(bucket: string, key: string): Promise<string> {
  const got = await swift().client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  const hash = createHash('sha256')
  for await (const chunk of got.Body as Readable) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout }))
  })
}

/**
 * PUTs `size` random bytes with Content-Length in 1 MiB writes, calling `midway` once `at`
 * bytes are written; resolves with the answer, which may come before the body is all sent.
 */
function putWhile(
  url: string,
  size: number,
  at: number,
  midway: () => Promise<void>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/`,
      {
        method: 'PUT',
        agent: false,
        headers: { 'content-length': size, accept: 'application/json' },
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    const write = async () => {
      for (let sent = 0; sent < size; sent += MiB) {
        if (sent === at) await midway()
        if (req.destroyed) return
        if (!req.write(randomBytes(Math.min(MiB, size - sent)))) {
          await new Promise((done) => req.once('drain', done))
        }
      }
      req.end()
    }
    write().catch(reject)
  })
}

describe.skipIf(missing)('hash-server storing into S3 (Swift with s3api)', () => {
  it('takes 256 MiB from curl -T and 3 files from multipart-upload, byte-exact in the bucket, in bounded memory', {
    timeout: 300_000,
  }, async () => {
    const bucket = await swift().bucket(`cli-${++buckets}`)
    const dir = await tempDir('hash-s3-')
    const big = await payloadFile(join(dir.path, 'big'), 256 * MiB)
    const server = await startCli(bucket)
    const rss = samplePeakRss(server.child.pid as number)
    const curl = await run('curl', [
      ...['-sS', '--fail-with-body', '-T', big.path, '-H', 'Accept: application/json'],
      `${server.url}/`,
    ])
    expect(curl.code, curl.stdout).toBe(0)
    const answer = JSON.parse(curl.stdout)
    expect(answer).toMatchObject({ size: big.size, digests: { md5: big.md5 } })
    expect(await objectSha256(bucket, `uploads/md5/${big.md5}`)).toBe(big.sha256)
    const files = await Promise.all(
      [5 * MiB + 3, 24 * MiB, 100].map((size, i) => payloadFile(join(dir.path, `f${i}`), size)),
    )
    const upload = await run(process.execPath, [
      ...[...UPLOAD, `${server.url}/`, '-s', '-H', 'Accept: application/json'],
      ...files.flatMap((file, i) => ['-F', `f${i}=@${file.path}`]),
    ])
    expect(upload.code, upload.stdout).toBe(0)
    const { parts } = JSON.parse(upload.stdout) as { parts: Array<{ location: string }> }
    expect(parts.map((part) => part.location)).toEqual(files.map((f) => `/md5/${f.md5}`))
    for (const file of files) {
      expect(await objectSha256(bucket, `uploads/md5/${file.md5}`)).toBe(file.sha256)
    }
    const peak = rss.stop()
    // curl's body streamed (no part held; about 120 MiB here), the form's files in buffered
    // parts (4 of 8 MiB at most), the SDK, and Node's own (about 70 MiB).
    expect(peak / MiB).toBeLessThan(170)
    expect(await swift().leftovers(bucket)).toEqual([])
    expect(await server.stop()).toBe(0)
  })

  it('stores a tus upload cut twice under its name, and nothing of a refused one', {
    timeout: 180_000,
  }, async () => {
    const bucket = await swift().bucket(`tus-${++buckets}`)
    const dir = await tempDir('hash-s3-tus-')
    const file = await payloadFile(join(dir.path, 'file'), 40 * MiB + 5)
    const server = await startCli(bucket, [
      '--tus-path',
      '/files/',
      '--tus-dir',
      join(dir.path, 'tus'),
    ])
    const proxy = await startCuttingProxy(
      { host: '127.0.0.1', port: Number(new URL(server.url).port) },
      [9 * MiB, 27 * MiB],
    )
    const done = await new Promise<tus.HttpResponse>((resolve, reject) => {
      new tus.Upload(createReadStream(file.path), {
        endpoint: `${proxy.url}/files/`,
        retryDelays: [0, 200, 1000, 3000],
        onSuccess: ({ lastResponse }) => resolve(lastResponse),
        onError: reject,
      }).start()
    })
    expect(proxy.cuts).toBe(2)
    expect(done.getHeader('Content-Location')).toBe(`/md5/${file.md5}`)
    expect(await objectSha256(bucket, `uploads/md5/${file.md5}`)).toBe(file.sha256)
    // A digest declared at creation that the bytes do not match: 460, nothing in the bucket.
    const data = randomBytes(6 * MiB)
    const created = await fetch(`${server.url}/files/`, {
      method: 'POST',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Length': String(data.length),
        'Repr-Digest': `md5=:${Buffer.from(md5(Buffer.from('other')), 'hex').toString('base64')}:`,
      },
    })
    const refused = await fetch(new URL(created.headers.get('location') ?? '', server.url), {
      method: 'PATCH',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': '0',
        'Content-Type': 'application/offset+octet-stream',
      },
      body: data,
    })
    expect(refused.status).toBe(460)
    expect(await swift().keys(bucket)).toEqual([`uploads/md5/${file.md5}`])
    expect(await swift().leftovers(bucket)).toEqual([])
    expect(await server.stop()).toBe(0)
  })

  it('keeps nothing of 20 uploads cut at random points', { timeout: 300_000 }, async () => {
    const bucket = await swift().bucket(`cuts-${++buckets}`)
    const server = await startCli(bucket)
    const { port } = new URL(server.url)
    const random = seededRandom(21)
    const body = randomBytes(24 * MiB)
    for (let i = 0; i < 20; i++) {
      const cut = Math.floor(random() * body.length)
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1')
        socket.on('error', reject)
        socket.write(`PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`)
        socket.write(body.subarray(0, cut), () => {
          socket.destroy()
          resolve()
        })
      })
    }
    // Each abort is counted once its multipart upload is aborted in Swift: every one, then none
    // left over.
    await expect
      .poll(
        async () =>
          (await scrapeMetrics(`${server.url}/metrics`)).get(
            'hash_server_errors_total{code="HASH_ERR_ABORTED"}',
          ),
        { timeout: 30_000, interval: 500 },
      )
      .toBe(20)
    await expect
      .poll(() => swift().leftovers(bucket), { timeout: 30_000, interval: 500 })
      .toEqual([])
    expect(await swift().keys(bucket, 'uploads/md5/')).toEqual([])
  })

  it('answers 503 when Swift dies in the middle, serves the rest, and stores again once it is back', {
    timeout: 300_000,
  }, async () => {
    const bucket = await swift().bucket(`outage-${++buckets}`)
    const server = await startCli(bucket)
    const small = randomBytes(1000)
    let down = false
    try {
      const answer = await putWhile(server.url, 64 * MiB, 24 * MiB, async () => {
        down = true
        await swift().swift.killProxy()
      })
      expect(answer.status).toBe(503)
      expect(JSON.parse(answer.body).error.code).toBe('HASH_ERR_STORE_UNAVAILABLE')
      expect(JSON.parse(answer.body).error.message).toMatch(/^S3 \w+ failed: /)
      // The process goes on: its health, and clear answers to what needs S3.
      expect((await fetch(`${server.url}/health`)).status).toBe(200)
      const refused = await fetch(`${server.url}/`, { method: 'PUT', body: small })
      expect(refused.status).toBe(503)
      expect((await fetch(`${server.url}/md5/${md5(small)}`)).status).toBe(503)
    } finally {
      // Back even when the above fails: the next tests need Swift.
      if (down) await swift().swift.restartProxy()
    }
    const up = await fetch(`${server.url}/`, { method: 'PUT', body: small })
    expect(up.status).toBe(201)
    expect(await up.text()).toBe(`${md5(small)}\n`)
    // The upload that broke is aborted once S3 is back: nothing of it is left.
    await expect
      .poll(() => swift().leftovers(bucket), { timeout: 60_000, interval: 500 })
      .toEqual([])
    expect(await swift().keys(bucket, 'uploads/md5/')).toEqual([`uploads/md5/${md5(small)}`])
    const metrics = await scrapeMetrics(`${server.url}/metrics`)
    expect(metrics.get('hash_server_errors_total{code="HASH_ERR_STORE_UNAVAILABLE"}')).toBe(3)
  })

  it('keeps 20 concurrent uploads of 32 MiB within its buffer budget', {
    timeout: 300_000,
  }, async () => {
    const bucket = await swift().bucket(`many-${++buckets}`)
    // A budget of 6 parts for the 10 chunked uploads of 7 parts each: most of them wait for
    // room. The 10 with a Content-Length are streamed, holding no part.
    const server = await startCli(bucket, ['--s3-buffer', '32M'])
    const rss = samplePeakRss(server.child.pid as number)
    const bodies = Array.from({ length: 20 }, () => randomBytes(32 * MiB))
    const chunked = (body: Buffer) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < body.length; at += MiB)
            controller.enqueue(body.subarray(at, at + MiB))
          controller.close()
        },
      })
    const answers = await Promise.all(
      bodies.map((body, i) =>
        fetch(`${server.url}/`, {
          method: 'PUT',
          ...(i % 2 === 0 ? { body } : { body: chunked(body), duplex: 'half' }),
        } as RequestInit).then(async (res) => ({
          status: res.status,
          text: await res.text(),
        })),
      ),
    )
    const peak = rss.stop()
    for (const [i, answer] of answers.entries()) {
      expect(answer).toEqual({ status: 201, text: `${md5(bodies[i] as Buffer)}\n` })
    }
    expect((await swift().keys(bucket, 'uploads/md5/')).sort()).toEqual(
      bodies.map((body) => `uploads/md5/${md5(body)}`).sort(),
    )
    // The budget (32 MiB of parts), the bodies' sockets, the SDK and Node's own.
    expect(peak / MiB).toBeLessThan(200)
  })

  it('stores into one bucket from every worker', { timeout: 120_000 }, async () => {
    const bucket = await swift().bucket(`workers-${++buckets}`)
    const server = await startCli(bucket, ['--workers', '2'])
    expect(server.output()).toContain('(2 workers)')
    const bodies = Array.from({ length: 10 }, (_, i) => randomBytes(1000 + i))
    for (const body of bodies) {
      // A connection of its own each: connections go round the workers.
      const res = await fetch(`${server.url}/`, {
        method: 'PUT',
        body,
        headers: { connection: 'close' },
      })
      expect(res.status).toBe(201)
      await res.arrayBuffer()
    }
    expect((await swift().keys(bucket, 'uploads/md5/')).sort()).toEqual(
      bodies.map((body) => `uploads/md5/${md5(body)}`).sort(),
    )
    for (const body of bodies) {
      const res = await fetch(`${server.url}/md5/${md5(body)}`, {
        headers: { connection: 'close' },
      })
      expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true)
    }
  })

  it('exits 1 with one line when the bucket cannot be used, 2 on bad usage', {
    timeout: 120_000,
  }, async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`
    for (const [args, reason] of [
      [
        s3Args('no-such-bucket'),
        /^hash-server: cannot start: --store s3:\/\/no-such-bucket\/uploads\/ bucket no-such-bucket does not exist$/,
      ],
      [
        [...s3Args('any-bucket'), '--s3-endpoint', nowhere],
        /^hash-server: cannot start: --store s3:\/\/any-bucket\/uploads\/ S3 HeadBucket failed: .*ECONNREFUSED/,
      ],
    ] as const) {
      const result = await runCli(process.execPath, [BIN, '--port', '0', ...args], {
        env: awsEnv(),
        timeoutMs: 60_000,
      })
      expect(result.code, result.stderr).toBe(1)
      const lines = result.stderr.trim().split('\n')
      expect(lines, result.stderr).toHaveLength(1)
      expect(lines[0]).toMatch(reason)
    }
    for (const [args, message] of [
      [['--s3-path-style'], '--s3-path-style needs --store s3://BUCKET[/PREFIX]'],
      [['--store', 's3://'], 'is not s3://BUCKET[/PREFIX]'],
      [
        ['--store', 's3://bkt/p', '--s3-part-size', '1M'],
        '--s3-part-size: "1M" is not between 5M and 5G',
      ],
      [['--store', 's3://bkt/p', '--s3-endpoint', 'ftp://x'], 'is not an http:// or https:// URL'],
    ] as const) {
      const result = await runCli(process.execPath, [BIN, ...args])
      expect(result.code, result.stderr).toBe(2)
      expect(result.stderr).toContain(message)
    }
  })
})
