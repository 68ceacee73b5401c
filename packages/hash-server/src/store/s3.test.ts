import { createHash, randomBytes } from 'node:crypto'
import { connect, createServer, type Socket } from 'node:net'
import { listen, missingSwift } from '@sluice/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storeContract } from '../../test/store-contract.js'
import { type SwiftBucket, startSwiftBucket } from '../../test/swift.js'
import { StoreFailedError } from '../errors.js'
import { S3Store, type S3StoreOptions } from './s3.js'

const missing = missingSwift()
let swift: SwiftBucket | undefined
let buckets = 0

beforeAll(async () => {
  if (!missing) swift = await startSwiftBucket()
}, 120_000)
afterAll(async () => {
  await swift?.stop()
})

const MiB = 1024 * 1024
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex')

async function storeIn(extra: Partial<S3StoreOptions> = {}) {
  if (swift === undefined) throw new Error('no Swift')
  const s3 = swift
  const bucket = await s3.bucket(`contract-${++buckets}`)
  const prefix = 'objects'
  return {
    store: new S3Store(s3.storeOptions(bucket, { prefix, ...extra })),
    read: (algorithm: string, hex: string) => s3.read(bucket, `${prefix}/${algorithm}/${hex}`),
    leftovers: () => s3.leftovers(bucket),
    // Three parts of 5 MiB and a bit.
    large: 11 * MiB,
    cleanup: async () => {},
  }
}

/**
 * A TCP relay to Swift that flips one byte of what the client sends, `at` bytes after the first
 * one of a request that carries a body (an UploadPart's).
 */
async function corruptingRelay(endpoint: string, at: number) {
  const target = new URL(endpoint)
  const sockets = new Set<Socket>()
  let corrupted = false
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname)
    sockets.add(client).add(upstream)
    let seen = 0
    let inBody = false
    client.on('data', (chunk: Buffer) => {
      if (!corrupted && !inBody && chunk.includes('PUT ') && chunk.includes('partNumber=')) {
        inBody = true
      }
      if (inBody && !corrupted && seen + chunk.length > at) {
        chunk[at - seen] = (chunk[at - seen] as number) ^ 0xff
        corrupted = true
      }
      if (inBody) seen += chunk.length
      upstream.write(chunk)
    })
    upstream.pipe(client)
    for (const socket of [client, upstream]) {
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
      socket.on('close', () => sockets.delete(socket))
    }
  })
  const listening = await listen(server)
  return {
    endpoint: listening.url,
    corrupted: () => corrupted,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await listening.close()
    },
  }
}

describe.skipIf(missing)('S3 (Swift with s3api)', () => {
  storeContract('S3, bodies of known length streamed,', () => storeIn())
  storeContract('S3, every part buffered,', () => storeIn({ streamParts: false }))

  it('refuses a streamed body that ends before its declared length, and keeps nothing of it', async () => {
    const backend = await storeIn()
    await backend.store.init()
    try {
      const body = randomBytes(6 * MiB)
      const pending = await backend.store.begin({ size: body.length + 1 })
      await pending.write([body])
      const committed = pending.commit('md5', md5(body))
      await expect(committed).rejects.toThrow(StoreFailedError)
      await expect(committed).rejects.toThrow('ended 1 bytes short of its declared length')
      await pending.discard()
      expect(await backend.read('md5', md5(body))).toBeUndefined()
      // Not one byte of a body declared to fill a part.
      const empty = await backend.store.begin({ size: body.length })
      await expect(empty.commit('md5', md5(Buffer.alloc(0)))).rejects.toThrow(
        `ended ${body.length} bytes short`,
      )
      await empty.discard()
      expect(await backend.read('md5', md5(Buffer.alloc(0)))).toBeUndefined()
      await expect.poll(() => backend.leftovers(), { timeout: 30_000 }).toEqual([])
    } finally {
      await backend.store.close()
    }
  })

  it('fails a streamed part whose bytes S3 received altered, and keeps nothing of it', async () => {
    if (swift === undefined) throw new Error('no Swift')
    const relay = await corruptingRelay(swift.swift.endpoint, 3 * MiB)
    const bucket = await swift.bucket(`corrupted-${++buckets}`)
    const store = new S3Store(swift.storeOptions(bucket, { prefix: 'p', endpoint: relay.endpoint }))
    try {
      await store.init()
      const body = randomBytes(8 * MiB)
      const pending = await store.begin({ size: body.length })
      const stored = (async () => {
        for (let at = 0; at < body.length; at += 64 * 1024) {
          await pending.write([body.subarray(at, at + 64 * 1024)])
        }
        return pending.commit('md5', md5(body))
      })()
      const failure = await stored.then(
        () => undefined,
        (error: unknown) => error,
      )
      expect(relay.corrupted()).toBe(true)
      expect(failure).toBeInstanceOf(StoreFailedError)
      // A streamed body is sent unsigned (UNSIGNED-PAYLOAD): only the ETag check catches this.
      expect((failure as Error).message).toMatch(
        /^S3 stored part 1 with MD5 [0-9a-f]{32}, not the [0-9a-f]{32} of the bytes sent$/,
      )
      await pending.discard()
      expect(await swift.keys(bucket, 'p/md5/')).toEqual([])
      await expect.poll(() => swift?.leftovers(bucket), { timeout: 30_000 }).toEqual([])
    } finally {
      await store.close()
      await relay.close()
    }
  })
})
