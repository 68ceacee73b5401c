import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { payloadFile, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { hashStream, supportedAlgorithms } from './index.js'

describe('hashStream', () => {
  it('hashes a file stream with several algorithms in one pass', async () => {
    const dir = await tempDir()
    try {
      const file = await payloadFile(join(dir.path, 'f'), 3 * 1024 * 1024 + 1)
      const result = await hashStream(createReadStream(file.path), 'md5, SHA256')
      expect(result).toEqual({ size: file.size, digests: { md5: file.md5, sha256: file.sha256 } })
    } finally {
      await dir.remove()
    }
  })

  it('hashes an async iterable', async () => {
    async function* chunks() {
      yield Buffer.from('hel')
      yield Buffer.from('lo')
    }
    const result = await hashStream(chunks(), ['sha1'])
    expect(result.digests['sha1']).toBe(createHash('sha1').update('hello').digest('hex'))
  })

  it('rejects an unknown algorithm before reading, with a stable code', async () => {
    const source = Readable.from(['x'])
    await expect(hashStream(source, 'md5,whirlpool-9000')).rejects.toMatchObject({
      code: 'HASH_ERR_UNSUPPORTED_ALGORITHM',
    })
  })

  it('fails with HASH_ERR_BODY_TOO_LARGE past maxBytes', async () => {
    const source = Readable.from([Buffer.alloc(600), Buffer.alloc(600)])
    await expect(hashStream(source, 'md5', { maxBytes: 1000 })).rejects.toMatchObject({
      code: 'HASH_ERR_BODY_TOO_LARGE',
      status: 413,
    })
  })

  it('aborts with the signal and destroys the source', async () => {
    const controller = new AbortController()
    const source = new Readable({ read() {} })
    const hashing = hashStream(source, 'md5', { signal: controller.signal })
    source.push('partial')
    controller.abort()
    await expect(hashing).rejects.toMatchObject({ name: 'AbortError' })
    expect(source.destroyed).toBe(true)
  })

  it('lists the algorithms Node can compute, without signature aliases', () => {
    const names = supportedAlgorithms()
    expect(names).toContain('md5')
    expect(names).toContain('sha512')
    expect(names.some((name) => name.includes('rsa'))).toBe(false)
  })
})
