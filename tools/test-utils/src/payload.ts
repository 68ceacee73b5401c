import { createHash, randomFillSync } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cleanUpAfterTest } from './cleanup.js'

/** A file of random bytes on disk, with its digests computed while it was written. */
export interface PayloadFile {
  readonly path: string
  readonly size: number
  readonly md5: string
  readonly sha256: string
}

/**
 * Creates a fresh directory under the OS temp dir; `remove()` deletes it and everything in it.
 * Inside a test, it is removed when the test finishes.
 */
export async function tempDir(
  prefix = 'sluice-',
): Promise<{ readonly path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  const remove = () => rm(path, { recursive: true, force: true })
  cleanUpAfterTest(remove)
  return { path, remove }
}

const CHUNK = 1 << 20

/**
 * Writes `size` random bytes to `path` one MiB at a time (memory stays flat for multi-GiB files),
 * honouring the write stream's backpressure, and returns the file's MD5 and SHA-256.
 */
export async function payloadFile(path: string, size: number): Promise<PayloadFile> {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid payload size ${size}`)
  const md5 = createHash('md5')
  const sha256 = createHash('sha256')
  const out = createWriteStream(path)
  const failed = once(out, 'error').then(([error]) => {
    throw error
  })
  failed.catch(() => {})
  try {
    for (let written = 0; written < size; ) {
      const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(CHUNK, size - written)))
      md5.update(chunk)
      sha256.update(chunk)
      written += chunk.length
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed])
    }
    out.end()
    await Promise.race([once(out, 'finish'), failed])
  } finally {
    out.destroy()
  }
  return { path, size, md5: md5.digest('hex'), sha256: sha256.digest('hex') }
}
