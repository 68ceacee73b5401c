import { createHash, randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { listen } from '@sluice/test-utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createHashServer, type ObjectStore } from '../src/index.js'

/** A store to test, made fresh for each test, with ways to look at what it holds without it. */
export interface StoreUnderTest {
  readonly store: ObjectStore
  /** The bytes of `<algorithm>/<hex>` as the backend holds them (read with fs, with the SDK). */
  read(algorithm: string, hex: string): Promise<Buffer | undefined>
  /** What bodies in progress or given up left behind: temp files, unfinished uploads… */
  leftovers(): Promise<string[]>
  /** A body size that spans several of the store's writes (parts). */
  readonly large: number
  cleanup(): Promise<void>
}

const md5 = (data: Buffer) => createHash('md5').update(data).digest()
const hex = (data: Buffer) => md5(data).toString('hex')

/** Polls `leftovers` until it is empty: backends may list what was removed for a little while. */
async function expectNoLeftovers(backend: StoreUnderTest): Promise<void> {
  await expect.poll(() => backend.leftovers(), { timeout: 30_000, interval: 250 }).toEqual([])
}

/** The promises every {@link ObjectStore} keeps, through a hash server on a loopback port. */
export function storeContract(name: string, make: () => Promise<StoreUnderTest>): void {
  describe(`${name} store`, () => {
    let backend: StoreUnderTest
    let url: string
    let close: () => Promise<void>
    beforeEach(async () => {
      backend = await make()
      await backend.store.init()
      const server = createHashServer({ store: backend.store, algorithms: 'md5,sha256' })
      const listening = await listen(server)
      url = listening.url
      close = () => listening.close()
    }, 120_000)
    afterEach(async () => {
      await close?.()
      await backend?.store.close()
      await backend?.cleanup()
    })

    async function put(body: Buffer | ReadableStream<Uint8Array>, headers = {}) {
      const res = await fetch(`${url}/`, {
        method: 'PUT',
        body,
        headers: { accept: 'application/json', ...headers },
        ...(body instanceof Buffer ? {} : { duplex: 'half' }),
      } as RequestInit)
      const answer = (await res.json()) as {
        location?: string
        digests: Record<string, string>
        error: { code: string }
      }
      return { status: res.status, answer }
    }

    it('stores a body under its first digest, byte-exact, and serves it with Range and validators', async () => {
      for (const size of [0, 1000, backend.large]) {
        const body = randomBytes(size)
        const { status, answer } = await put(body)
        expect(status).toBe(201)
        expect(answer.location).toBe(`/md5/${hex(body)}`)
        expect((await backend.read('md5', hex(body)))?.equals(body)).toBe(true)
        const whole = await fetch(`${url}${answer.location}`)
        expect(whole.status).toBe(200)
        expect(whole.headers.get('etag')).toBe(`"md5-${hex(body)}"`)
        expect(whole.headers.get('cache-control')).toContain('immutable')
        expect(Buffer.from(await whole.arrayBuffer()).equals(body)).toBe(true)
        if (size > 0) {
          const tail = await fetch(`${url}${answer.location}`, { headers: { range: 'bytes=-7' } })
          expect(tail.status).toBe(206)
          expect(Buffer.from(await tail.arrayBuffer()).equals(body.subarray(-7))).toBe(true)
        }
        const again = await fetch(`${url}${answer.location}`, {
          headers: { 'if-none-match': `"md5-${hex(body)}"` },
        })
        expect(again.status).toBe(304)
        const head = await fetch(`${url}${answer.location}`, { method: 'HEAD' })
        expect(head.headers.get('content-length')).toBe(String(size))
      }
      expect((await fetch(`${url}/md5/${'0'.repeat(32)}`)).status).toBe(404)
      await expectNoLeftovers(backend)
    })

    it('stores a body of unknown length (chunked) spanning several writes', async () => {
      const body = randomBytes(backend.large + 12_345)
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < body.length; at += 1024 * 1024) {
            controller.enqueue(body.subarray(at, at + 1024 * 1024))
          }
          controller.close()
        },
      })
      const { status, answer } = await put(stream)
      expect(status).toBe(201)
      expect(answer.digests['md5']).toBe(hex(body))
      expect((await backend.read('md5', hex(body)))?.equals(body)).toBe(true)
      await expectNoLeftovers(backend)
    })

    it('stores a body whose digest was declared, and keeps nothing of one that does not match it', async () => {
      const body = randomBytes(backend.large)
      const declared = await put(body, { 'content-md5': md5(body).toString('base64') })
      expect(declared.status).toBe(201)
      expect((await backend.read('md5', hex(body)))?.equals(body)).toBe(true)
      for (const size of [100, backend.large]) {
        const other = randomBytes(size)
        const wrong = await put(other, { 'content-md5': md5(body.subarray(1)).toString('base64') })
        expect(wrong.status).toBe(400)
        expect(wrong.answer.error.code).toBe('HASH_ERR_DIGEST_MISMATCH')
        const sha = createHash('sha256').update(body).digest('base64')
        const wrongSha = await put(other, { 'repr-digest': `sha-256=:${sha}:` })
        expect(wrongSha.status).toBe(400)
        expect(await backend.read('md5', hex(other))).toBeUndefined()
        expect(await backend.read('md5', hex(body.subarray(1)))).toBeUndefined()
      }
      await expectNoLeftovers(backend)
    })

    it('stores each file of a multipart form as its own object', async () => {
      const files = [randomBytes(10), randomBytes(backend.large), randomBytes(70_000)]
      const form = new FormData()
      for (const [i, file] of files.entries()) {
        form.append(`f${i}`, new Blob([file]), `file-${i}.bin`)
      }
      const res = await fetch(`${url}/`, {
        method: 'POST',
        body: form,
        headers: { accept: 'application/json' },
      })
      expect(res.status).toBe(201)
      const { parts } = (await res.json()) as { parts: Array<{ location: string }> }
      expect(parts.map((part) => part.location)).toEqual(files.map((f) => `/md5/${hex(f)}`))
      for (const file of files) {
        expect((await backend.read('md5', hex(file)))?.equals(file)).toBe(true)
      }
      await expectNoLeftovers(backend)
    })

    it('stores the same body sent several times at once as one object', async () => {
      const body = randomBytes(backend.large)
      const answers = await Promise.all([put(body), put(body), put(body)])
      expect(answers.map((a) => a.status)).toEqual([201, 201, 201])
      const later = await put(body, { 'content-md5': md5(body).toString('base64') })
      expect(later.status).toBe(201)
      expect((await backend.read('md5', hex(body)))?.equals(body)).toBe(true)
      await expectNoLeftovers(backend)
    })

    it('keeps nothing of a body whose client goes away', async () => {
      const body = randomBytes(backend.large)
      const { port } = new URL(url)
      for (const cut of [1000, Math.floor(body.length * 0.8)]) {
        await new Promise<void>((resolve, reject) => {
          const socket = connect(Number(port), '127.0.0.1')
          socket.on('error', reject)
          socket.write(`PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`)
          socket.write(body.subarray(0, cut), () => {
            // Let the server take what was sent before the connection breaks.
            setTimeout(() => {
              socket.destroy()
              resolve()
            }, 200)
          })
        })
      }
      await expectNoLeftovers(backend)
      expect(await backend.read('md5', hex(body))).toBeUndefined()
      const after = await put(body)
      expect(after.status).toBe(201)
    })

    it('drops a pending object that is discarded, whatever it was given', async () => {
      const { store } = backend
      const body = randomBytes(backend.large)
      const pending = await store.begin({ size: body.length })
      await pending.write([body.subarray(0, body.length / 2)])
      await pending.discard()
      await pending.discard()
      const declared = await store.begin({ declared: { algorithm: 'md5', hex: hex(body) } })
      await declared.write([body])
      await declared.discard()
      expect(await store.open('md5', hex(body))).toBe('missing')
      await expectNoLeftovers(backend)
    })
  })
}
