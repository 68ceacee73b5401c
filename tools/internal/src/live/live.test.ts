import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Arrivals, LiveBytes, readLive, type StoredBytes } from './index.js'

/** Storage of what was pushed, readable at any position, counting its reads. */
function memoryStore(): StoredBytes & { write(chunk: Buffer): void; reads: number } {
  const chunks: Buffer[] = []
  return {
    reads: 0,
    write(chunk) {
      chunks.push(chunk)
    },
    async read(position, length) {
      this.reads++
      return Buffer.concat(chunks).subarray(position, position + length)
    },
  }
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of source) chunks.push(chunk)
  return Buffer.concat(chunks)
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('LiveBytes and readLive', () => {
  it('give readers that join before, during and after every byte, in order', async () => {
    const store = memoryStore()
    const live = new LiveBytes({ recentBytes: 1000 })
    const pieces = Array.from({ length: 50 }, () => randomBytes(300))
    const push = (piece: Buffer) => {
      store.write(piece)
      live.push([piece])
    }
    const early = collect(readLive(live, store, { chunkSize: 128 }))
    for (const piece of pieces.slice(0, 25)) push(piece)
    const middle = collect(readLive(live, store, { start: 100 }))
    for (const piece of pieces.slice(25)) {
      push(piece)
      await tick()
    }
    live.complete()
    const all = Buffer.concat(pieces)
    expect((await early).equals(all)).toBe(true)
    expect((await middle).equals(all.subarray(100))).toBe(true)
    expect((await collect(readLive(live, store))).equals(all)).toBe(true)
    // Old bytes come from storage: only the newest 1000 or so are in memory.
    expect(store.reads).toBeGreaterThan(0)
    expect(live.recent(0, 10)).toBeUndefined()
  })

  it('ends readers with the failure of aborted bytes, and at once when their signal aborts', async () => {
    const store = memoryStore()
    const live = new LiveBytes()
    store.write(Buffer.from('abc'))
    live.push([Buffer.from('abc')])
    const failing = collect(readLive(live, store))
    const controller = new AbortController()
    const stopped = collect(readLive(live, store, { signal: controller.signal }))
    await tick()
    controller.abort()
    expect((await stopped).toString()).toBe('abc')
    live.abort(new Error('upload cut short'))
    await expect(failing).rejects.toThrow('upload cut short')
    expect(live.state).toBe('aborted')
    expect(() => live.push([Buffer.from('x')])).toThrow('cannot push to aborted bytes')
  })

  it('starts after the bytes already stored, and reads a finished resource to its end', async () => {
    const store = memoryStore()
    store.write(Buffer.from('stored '))
    const live = new LiveBytes({ start: 7 })
    expect(live.size).toBe(7)
    store.write(Buffer.from('then live'))
    live.push([Buffer.from('then live')])
    live.complete()
    expect((await collect(readLive(live, store))).toString()).toBe('stored then live')
    const finished = LiveBytes.finished(7)
    expect((await collect(readLive(finished, store, { start: 2 }))).toString()).toBe('ored ')
  })
})

describe('Arrivals', () => {
  it('wakes waiters of a key, and gives up on timeout or signal', async () => {
    const arrivals = new Arrivals()
    const waiting = arrivals.waitFor('/a')
    const other = arrivals.waitFor('/b', { timeoutMs: 20 })
    const controller = new AbortController()
    const aborted = arrivals.waitFor('/a', { signal: controller.signal })
    controller.abort()
    expect(await aborted).toBe('aborted')
    arrivals.announce('/a')
    expect(await waiting).toBe('arrived')
    expect(await other).toBe('timeout')
    expect(await arrivals.waitFor('/c', { signal: AbortSignal.abort() })).toBe('aborted')
  })
})
