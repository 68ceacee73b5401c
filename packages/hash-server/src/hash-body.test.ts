import { createHash, randomBytes } from 'node:crypto'
import { tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { createBodyHashing } from './hash-body.js'
import { InlineEngine } from './hash-threads.js'
import { HashMetrics } from './metrics.js'
import { DiskStore } from './store/disk.js'
import type { ObjectStore } from './store/index.js'
import { S3Store } from './store/s3.js'

const LARGE = 64 * 1024 * 1024

/** The engine a 64 MiB MD5 body gets with one hashing thread, and the MD5 it computes. */
async function engineOf(store: ObjectStore | undefined) {
  const hashing = createBodyHashing({ hashThreads: 1 }, store, Promise.resolve(), new HashMetrics())
  try {
    const engine = hashing.engineFor(LARGE)(['md5'])
    const chunk = randomBytes(256 * 1024)
    for (let i = 0; i < 8; i++) await engine.update(chunk)
    const digest = (await engine.finish()).get('md5')?.toString('hex')
    const expected = createHash('md5')
    for (let i = 0; i < 8; i++) expected.update(chunk)
    expect(digest).toBe(expected.digest('hex'))
    return engine
  } finally {
    await hashing.close()
  }
}

describe('which thread hashes a large body', () => {
  it('MD5 goes to a hashing thread without a store and with a disk store', async () => {
    const dir = await tempDir()
    try {
      expect(await engineOf(undefined)).not.toBeInstanceOf(InlineEngine)
      expect(await engineOf(new DiskStore(dir.path))).not.toBeInstanceOf(InlineEngine)
    } finally {
      await dir.remove()
    }
  })

  it('stays on the request thread when the store is paced by the network (S3)', async () => {
    const store = new S3Store({ bucket: 'unused' })
    expect(store.paced).toBe(true)
    expect(await engineOf(store)).toBeInstanceOf(InlineEngine)
  })
})
