import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHashServer } from '@sluice/hash-server'
import { listen, payloadFile, runCli, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'

const CLI = fileURLToPath(new URL('./upload-cli.ts', import.meta.url))

describe('upload-demo', () => {
  it('uploads -filepath to UPLOAD_HOST and checks the server digests locally, in a small heap', async () => {
    const dir = await tempDir('upload-demo-')
    const server = await listen(createHashServer({ onError: () => {} }))
    try {
      const file = await payloadFile(join(dir.path, 'demo.bin'), 20 * 1024 * 1024 + 1)
      const result = await runCli(
        process.execPath,
        ['--max-old-space-size=16', '--import', 'tsx', CLI, '-filepath', file.path],
        { env: { UPLOAD_HOST: server.url } },
      )
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      const out = result.stdout.toString()
      expect(out).toContain('file:     demo.bin')
      expect(out).toContain(`size:     ${file.size} bytes`)
      expect(out).toContain(`md5:      ${file.md5}`)
      expect(out).toContain(`sha256:   ${file.sha256}`)
      expect(out).toContain('local check: digests match')
    } finally {
      await server.close()
      await dir.remove()
    }
  }, 30_000)

  it('exits 2 without -filepath and 1 when the server cannot be reached', async () => {
    expect((await runCli(process.execPath, ['--import', 'tsx', CLI])).code).toBe(2)
    const refused = await runCli(process.execPath, ['--import', 'tsx', CLI, '-filepath', CLI], {
      env: { UPLOAD_HOST: 'http://127.0.0.1:1' },
    })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('ECONNREFUSED')
  }, 30_000)
})
