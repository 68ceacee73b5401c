import { readdirSync } from 'node:fs'
import { fuzzMultipartServer, listen } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { createHashServer } from './index.js'

/** Replay a failure with the same seed: every body is the same on every machine. */
const SEED = 20_261_123
const COUNT = 10_000

describe('multipart fuzzing', () => {
  it(`answers ${COUNT} fuzzed bodies with 200 or 4xx, each within 2 s, as busboy reads them`, {
    timeout: 180_000,
  }, async () => {
    const fds = () => readdirSync('/proc/self/fd').length
    const fdsBefore = fds()
    // Bodies of unknown length go to a hashing thread: both paths are fuzzed.
    const server = await listen(createHashServer({ hashThreads: 1 }))
    const run = await fuzzMultipartServer(server.url, { seed: SEED, count: COUNT }).finally(
      server.close,
    )
    expect(run.failures.slice(0, 10)).toEqual([])
    // Both outcomes occurred: the corpus is neither all valid nor all broken.
    expect(run.statuses.get(200)).toBeGreaterThan(COUNT / 10)
    expect(run.statuses.get(400)).toBeGreaterThan(COUNT / 10)
    await expect.poll(fds).toBeLessThanOrEqual(fdsBefore + 5)
  })
})
