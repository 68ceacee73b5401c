import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it as vitestIt } from 'vitest'
import { FstreamServerError, ResourceGoneError } from '../src/errors.js'
import type { FollowSource, ResourceStorage } from '../src/storage/index.js'

/** A storage to test, made fresh for each test, and how to let go of it. */
export interface StorageUnderTest {
  readonly storage: ResourceStorage
  /** A second storage on the same data, as another server sees it (omit where there is none). */
  readonly peer?: ResourceStorage
  cleanup(): Promise<void>
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** Every byte a follow gives, until it ends; rejects as the follow does. */
export async function drain(
  source: FollowSource,
  signal: AbortSignal = new AbortController().signal,
): Promise<Buffer> {
  const chunks: Buffer[] = []
  try {
    for await (const chunk of source.bytes(signal)) chunks.push(chunk)
  } finally {
    await source.close()
  }
  return Buffer.concat(chunks)
}

/** What the storage gave, or a failed test saying what it refused. */
export function ok<T>(value: T | FstreamServerError): T {
  if (value instanceof FstreamServerError)
    throw new Error(`refused: ${value.status} ${value.message}`)
  return value
}

async function stored(storage: ResourceStorage, path: string): Promise<Buffer> {
  const content = ok(await storage.representation(path))
  if (content.size === 0) return Buffer.alloc(0)
  const chunks: Buffer[] = []
  for await (const chunk of content.open(0, content.size - 1)) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function appendWhole(storage: ResourceStorage, path: string, chunks: Buffer[]) {
  const target = ok(await storage.openAppend(path, undefined))
  for (const chunk of chunks) await target.write([chunk])
  const durable = await target.sync()
  await target.close(true)
  return { start: target.start, durable }
}

/**
 * The contract of a {@link ResourceStorage}, the same for every backend (files, JetStream):
 * appends, one appender per resource (across servers when the storage is shared), follows from
 * any offset with no gap and no duplicate, waits, the stored content, and deletion.
 */
export function storageContract(
  name: string,
  make: () => Promise<StorageUnderTest>,
  /** Why this backend cannot be tested here (its server is missing): each test skips, saying so. */
  unavailable: () => string | undefined = () => undefined,
): void {
  describe(`storage contract: ${name}`, () => {
    const it = (title: string, test: () => Promise<void>) =>
      vitestIt(title, async (context) => {
        const reason = unavailable()
        if (reason !== undefined) return context.skip(reason)
        await test()
      })

    it('stores appended bytes in order; sync() acknowledges them; the content is byte-exact', async () => {
      const { storage, cleanup } = await make()
      try {
        const chunks = Array.from({ length: 20 }, (_, i) => randomBytes(1000 + i * 5000))
        const all = Buffer.concat(chunks)
        const { start, durable } = await appendWhole(storage, 'logs/a.bin', chunks)
        expect(start).toBe(0)
        expect(durable).toBe(all.length)
        await appendWhole(storage, 'logs/deeper/b.bin', [Buffer.from('b')])
        await appendWhole(storage, 'other.bin', [Buffer.from('c')])
        expect(await storage.list('logs', 10)).toEqual(['logs/a.bin', 'logs/deeper/b.bin'])
        expect(await storage.list('logs', 1)).toHaveLength(1)
        expect(await storage.list('nothing', 10)).toEqual([])
        const content = ok(await storage.representation('logs/a.bin'))
        expect(content.size).toBe(all.length)
        expect(sha256(await stored(storage, 'logs/a.bin'))).toBe(sha256(all))
        // A range from the middle, across chunk boundaries.
        const part: Buffer[] = []
        for await (const chunk of content.open(4000, 70_000)) part.push(chunk as Buffer)
        expect(Buffer.concat(part).equals(all.subarray(4000, 70_001))).toBe(true)
        // A second session goes on where the first ended, at the offset it asks for.
        const more = randomBytes(3000)
        const again = ok(await storage.openAppend('logs/a.bin', all.length))
        expect(again.start).toBe(all.length)
        await again.write([more])
        expect(await again.sync()).toBe(all.length + more.length)
        await again.close(true)
        expect(sha256(await stored(storage, 'logs/a.bin'))).toBe(sha256(Buffer.concat([all, more])))
      } finally {
        await cleanup()
      }
    })

    it('lets a range that is opened, then dropped unread, go without a failure even as the storage closes', async () => {
      const { storage, cleanup } = await make()
      let closed = false
      try {
        const chunks = Array.from({ length: 40 }, () => randomBytes(10_000))
        await appendWhole(storage, 'dropped.bin', chunks)
        const content = ok(await storage.representation('dropped.bin'))
        // A client that asked for a range from the middle and left before its first byte.
        content.open(234_567, content.size - 1).destroy()
        // Whatever the open had started must not fail (unhandled) as the storage closes.
        await cleanup()
        closed = true
      } finally {
        if (!closed) await cleanup()
      }
    })

    it('has one appender per resource (on every server sharing it), and checks offsets', async () => {
      const { storage, peer, cleanup } = await make()
      try {
        const first = ok(await storage.openAppend('one', undefined))
        await first.write([Buffer.from('12345')])
        await first.sync()
        for (const other of [storage, ...(peer ? [peer] : [])]) {
          const second = await other.openAppend('one', undefined)
          expect(second).toMatchObject({ status: 409, code: 'FSTREAM_ERR_CONFLICT' })
        }
        await first.close(true)
        expect(await storage.openAppend('one', 3)).toMatchObject({ status: 409 })
        expect(await storage.openAppend('never', 3)).toMatchObject({ status: 409 })
        const next = ok(await (peer ?? storage).openAppend('one', 5))
        expect(next.start).toBe(5)
        await next.close(true)
      } finally {
        await cleanup()
      }
    })

    it('follows from the start, an offset, or the end: stored bytes then live ones, no gap, no duplicate', async () => {
      const { storage, peer, cleanup } = await make()
      try {
        const reader = peer ?? storage
        const before = randomBytes(100_000)
        const after = Array.from({ length: 10 }, () => randomBytes(30_000))
        const all = Buffer.concat([before, ...after])
        const target = ok(await storage.openAppend('live', undefined))
        await target.write([before])
        await target.sync()
        const fromStart = ok(await reader.openFollow('live', { offset: 0, wait: false }))
        const fromMiddle = ok(await reader.openFollow('live', { offset: 60_000, wait: false }))
        const fromEnd = ok(await reader.openFollow('live', { offset: -1000, wait: false }))
        expect([fromStart.start, fromMiddle.start, fromEnd.start]).toEqual([0, 60_000, 99_000])
        expect(fromStart.size).toBe(100_000)
        expect(fromStart.live).toBe(true)
        const results = [fromStart, fromMiddle, fromEnd].map((source) => drain(source))
        for (const chunk of after) {
          await target.write([chunk])
          await target.sync()
        }
        await target.close(true)
        const [whole, middle, end] = await Promise.all(results)
        expect(sha256(whole as Buffer)).toBe(sha256(all))
        expect(sha256(middle as Buffer)).toBe(sha256(all.subarray(60_000)))
        expect(sha256(end as Buffer)).toBe(sha256(all.subarray(99_000)))
        // Once complete, a follow gives what is stored and ends.
        const late = ok(await reader.openFollow('live', { offset: 0, wait: false }))
        expect(late.live).toBe(false)
        expect(sha256(await drain(late))).toBe(sha256(all))
      } finally {
        await cleanup()
      }
    })

    it('refuses a follow past the end (416) or of a resource never written (404), and waits when asked', async () => {
      const { storage, peer, cleanup } = await make()
      try {
        const reader = peer ?? storage
        await appendWhole(storage, 'short', [Buffer.from('abc')])
        expect(await reader.openFollow('short', { offset: 4, wait: false })).toMatchObject({
          status: 416,
        })
        const atEnd = ok(await reader.openFollow('short', { offset: 3, wait: false }))
        expect((await drain(atEnd)).length).toBe(0)
        expect(await reader.openFollow('nothing', { offset: 0, wait: false })).toMatchObject({
          status: 404,
        })
        const waiting = ok(await reader.openFollow('later', { offset: 0, wait: true }))
        const got = drain(waiting)
        const data = randomBytes(50_000)
        await appendWhole(storage, 'later', [data])
        expect(sha256(await got)).toBe(sha256(data))
        // A wait given up lets go of what it held.
        const abandoned = ok(await reader.openFollow('never', { offset: 0, wait: true }))
        const stop = new AbortController()
        const given = drain(abandoned, stop.signal)
        stop.abort()
        expect((await given).length).toBe(0)
      } finally {
        await cleanup()
      }
    })

    it('keeps followers waiting when an append breaks off, for the appender that resumes it', async () => {
      const { storage, peer, cleanup } = await make()
      try {
        const reader = peer ?? storage
        const first = ok(await storage.openAppend('resumed', undefined))
        await first.write([Buffer.from('first ')])
        await first.sync()
        const following = ok(await reader.openFollow('resumed', { offset: 0, wait: false }))
        const got = drain(following)
        await first.close(false)
        const second = ok(await (peer ?? storage).openAppend('resumed', 6))
        await second.write([Buffer.from('second')])
        await second.sync()
        await second.close(true)
        expect((await got).toString()).toBe('first second')
      } finally {
        await cleanup()
      }
    })

    it('deletes a resource: its appender loses it, live followers fail with ResourceGoneError', async () => {
      const { storage, peer, cleanup } = await make()
      try {
        const target = ok(await storage.openAppend('doomed', undefined))
        await target.write([Buffer.from('some bytes')])
        await target.sync()
        const following = ok(
          await (peer ?? storage).openFollow('doomed', { offset: 0, wait: false }),
        )
        const got = drain(following)
        // It rejects while the deletion is awaited: handled here, checked below.
        got.catch(() => {})
        expect(await (peer ?? storage).delete('doomed')).toBe(true)
        await expect(got).rejects.toBeInstanceOf(ResourceGoneError)
        await expect.poll(() => target.lost.aborted, { timeout: 15_000 }).toBe(true)
        expect(target.lost.reason).toBeInstanceOf(ResourceGoneError)
        await target.close(false)
        expect(await storage.representation('doomed')).toMatchObject({ status: 404 })
        expect(await storage.openFollow('doomed', { offset: 0, wait: false })).toMatchObject({
          status: 404,
        })
        expect(await storage.delete('doomed')).toBe(false)
        // The path can be written again from zero.
        expect((await appendWhole(storage, 'doomed', [Buffer.from('new')])).start).toBe(0)
        expect((await stored(storage, 'doomed')).toString()).toBe('new')
      } finally {
        await cleanup()
      }
    })
  })
}
