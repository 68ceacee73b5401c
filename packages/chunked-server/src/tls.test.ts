import { randomBytes } from 'node:crypto'
import { type ClientHttp2Session, connect, constants } from 'node:http2'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { listen, selfSignedCertificate, tempDir } from '@sluice/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createChunkedServer } from './index.js'

let dir: Awaited<ReturnType<typeof tempDir>>
let tls: { cert: Buffer; key: Buffer }

beforeAll(async () => {
  dir = await tempDir('chunked-tls-')
  tls = await selfSignedCertificate(dir.path)
})
afterAll(() => dir.remove())

function h2(session: ClientHttp2Session, headers: Record<string, string>, body?: Buffer[]) {
  const stream = session.request(headers)
  const chunks: Buffer[] = []
  const done = new Promise<{ status: number; body: Buffer; protocol: string }>(
    (resolve, reject) => {
      let status = 0
      stream.on('response', (h) => {
        status = Number(h[':status'])
      })
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () =>
        resolve({ status, body: Buffer.concat(chunks), protocol: session.alpnProtocol ?? '' }),
      )
      stream.on('error', reject)
    },
  )
  return { stream, done, send: body }
}

describe('HTTPS and HTTP/2', () => {
  it('ingests and serves live objects over HTTP/2, and HTTP/1.1 over TLS on the same port', async () => {
    const root = join(dir.path, 'content')
    const server = await listen(createChunkedServer({ root, tls }))
    const url = `https://127.0.0.1:${server.port}`
    const session = connect(url, { rejectUnauthorized: false })
    session.on('error', () => {})
    try {
      const pieces = [randomBytes(70_000), randomBytes(90_000)]
      const upload = h2(session, {
        ':method': 'PUT',
        ':path': '/live/seg.m4s',
        'content-type': 'video/mp4',
      })
      upload.stream.write(pieces[0])
      await expect
        .poll(
          async () =>
            (await h2(session, { ':method': 'HEAD', ':path': '/live/seg.m4s' }).done).status,
        )
        .toBe(200)
      const reader = h2(session, { ':method': 'GET', ':path': '/live/seg.m4s' })
      upload.stream.end(pieces[1])
      const [stored, read] = await Promise.all([upload.done, reader.done])
      expect(stored.status).toBe(201)
      expect(read.status).toBe(200)
      expect(read.protocol).toBe('h2')
      expect(read.body.equals(Buffer.concat(pieces))).toBe(true)

      const viaHttp1 = await new Promise<{ status: number; body: Buffer; version: string }>(
        (resolve, reject) => {
          httpsRequest(`${url}/live/seg.m4s`, { rejectUnauthorized: false }, (res) => {
            const chunks: Buffer[] = []
            res.on('data', (chunk: Buffer) => chunks.push(chunk))
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                body: Buffer.concat(chunks),
                version: res.httpVersion,
              }),
            )
          })
            .on('error', reject)
            .end()
        },
      )
      expect(viaHttp1).toMatchObject({ status: 200, version: '1.1' })
      expect(viaHttp1.body.equals(Buffer.concat(pieces))).toBe(true)
    } finally {
      session.destroy()
      await server.close()
    }
  })

  it('holds a blocking playlist reload over HTTP/2 and answers it on the next version', async () => {
    const server = await listen(createChunkedServer({ root: join(dir.path, 'reload'), tls }))
    const session = connect(`https://127.0.0.1:${server.port}`, { rejectUnauthorized: false })
    session.on('error', () => {})
    try {
      const version = (last: number) =>
        Buffer.from(
          `#EXTM3U\n#EXT-X-TARGETDURATION:1\n${Array.from({ length: last + 1 }, (_, n) => `#EXTINF:1,\ns${n}.ts\n`).join('')}`,
        )
      const publish = (last: number) => {
        const upload = h2(session, { ':method': 'PUT', ':path': '/live/h2.m3u8' })
        upload.stream.end(version(last))
        return upload.done
      }
      expect((await publish(1)).status).toBe(201)
      const reload = h2(session, { ':method': 'GET', ':path': '/live/h2.m3u8?_HLS_msn=2' })
      reload.stream.end()
      let answered = false
      void reload.done.then(() => {
        answered = true
      })
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(answered).toBe(false)
      // The same HTTP/2 connection carries the update while the reload is held on it.
      expect((await publish(2)).status).toBe(201)
      const answer = await reload.done
      expect(answer.status).toBe(200)
      expect(answer.body.equals(version(2))).toBe(true)
    } finally {
      session.destroy()
      await server.close()
    }
  })
  it('goes on serving after an HTTP/2 upload refused with 413 is left idle by its client', async () => {
    const server = await listen(
      createChunkedServer({
        root: join(dir.path, 'idle'),
        tls,
        maxObjectSize: 100_000,
        ingestIdleTimeout: 300,
      }),
    )
    const session = connect(`https://127.0.0.1:${server.port}`, { rejectUnauthorized: false })
    session.on('error', () => {})
    try {
      // The client sends too much, reads the 413, then neither ends nor resets its stream: the
      // server's idle timeout destroys the request after its handler has finished with it.
      const refused = h2(session, { ':method': 'PUT', ':path': '/live/big.bin' })
      refused.stream.write(randomBytes(200_000))
      const answer = await refused.done
      expect(answer.status).toBe(413)
      expect(answer.body.toString()).toContain('100000')
      await new Promise((resolve) => refused.stream.once('close', resolve))
      // The answer was complete: the reset only asks the client to stop sending (RFC 9113 8.1).
      expect(refused.stream.rstCode).toBe(constants.NGHTTP2_NO_ERROR)
      const stored = h2(session, { ':method': 'PUT', ':path': '/live/small.bin' })
      stored.stream.end(Buffer.from('still here'))
      expect((await stored.done).status).toBe(201)
      const read = h2(session, { ':method': 'GET', ':path': '/live/small.bin' })
      read.stream.end()
      expect((await read.done).body.toString()).toBe('still here')
    } finally {
      session.destroy()
      await server.close()
    }
  })
  it('resets an HTTP/2 upload that goes idle mid-body and counts it as aborted, not failed', async () => {
    const server = await listen(
      createChunkedServer({ root: join(dir.path, 'idle-body'), tls, ingestIdleTimeout: 300 }),
    )
    const session = connect(`https://127.0.0.1:${server.port}`, { rejectUnauthorized: false })
    session.on('error', () => {})
    try {
      const stalled = h2(session, { ':method': 'PUT', ':path': '/live/stalled.bin' })
      stalled.done.catch(() => {})
      stalled.stream.write(randomBytes(10_000))
      await new Promise((resolve) => stalled.stream.once('close', resolve))
      expect(stalled.stream.rstCode).toBe(constants.NGHTTP2_CANCEL)
      // Counted once the upload's storage has let go of it, just after the reset.
      const metricsText = async () => {
        const metrics = h2(session, { ':method': 'GET', ':path': '/metrics' })
        metrics.stream.end()
        return (await metrics.done).body.toString()
      }
      await expect
        .poll(metricsText)
        .toContain('chunked_server_uploads_total{outcome="CHUNKED_ERR_UPLOAD_ABORTED"} 1')
      expect(await metricsText()).not.toContain('CHUNKED_ERR_STORAGE"}')
      const gone = h2(session, { ':method': 'HEAD', ':path': '/live/stalled.bin' })
      gone.stream.end()
      expect((await gone.done).status).toBe(404)
    } finally {
      session.destroy()
      await server.close()
    }
  })
})
