import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { text } from 'node:stream/consumers'
import { fileURLToPath } from 'node:url'
import { createFstreamServer } from '@sluice/fstream-server'
import { listen, payloadFile, runCli, tempDir } from '@sluice/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readResource } from './index.js'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))
let dir: Awaited<ReturnType<typeof tempDir>>
let server: Awaited<ReturnType<typeof listen>>
let sha256: string

beforeAll(async () => {
  dir = await tempDir('fstream-client-')
  sha256 = (await payloadFile(join(dir.path, 'data.bin'), 3 * 1024 * 1024 + 5)).sha256
  await writeFile(join(dir.path, 'log.txt'), 'line 1\nline 2\n')
  server = await listen(createFstreamServer({ root: dir.path }))
})
afterAll(async () => {
  await server.close()
  await dir.remove()
})

describe('readResource', () => {
  it('reads a stored resource byte-exact, and from an offset', async () => {
    const hash = createHash('sha256')
    for await (const chunk of await readResource(`${server.url}/data.bin`))
      hash.update(chunk as Buffer)
    expect(hash.digest('hex')).toBe(sha256)
    expect(await text(await readResource(`${server.url}/log.txt`, { offset: 7 }))).toBe('line 2\n')
    expect(await text(await readResource(`${server.url}/log.txt`, { offset: 14 }))).toBe('')
  })

  it('rejects with stable codes', async () => {
    await expect(readResource(`${server.url}/never`)).rejects.toMatchObject({
      code: 'FSTREAM_ERR_NOT_FOUND',
      status: 404,
    })
    await expect(readResource('http://127.0.0.1:1/x')).rejects.toMatchObject({
      code: 'FSTREAM_ERR_CONNECTION',
    })
    const denying = await listen(createServer((_req, res) => res.writeHead(401).end()))
    try {
      await expect(readResource(`${denying.url}/x`)).rejects.toMatchObject({
        code: 'FSTREAM_ERR_UNAUTHORIZED',
      })
    } finally {
      await denying.close()
    }
  })

  it('fails, not ends, when the body is cut short', async () => {
    const cutting = await listen(
      createServer((_req, res) => {
        res.writeHead(200, { 'content-length': '100' })
        res.write('only part of it')
        setTimeout(() => res.destroy(), 20)
      }),
    )
    try {
      await expect(text(await readResource(`${cutting.url}/x`))).rejects.toThrow()
    } finally {
      await cutting.close()
    }
  })
})

describe('fstream-follow CLI', () => {
  it('writes the resource to stdout, from --offset', async () => {
    const all = await runCli(process.execPath, [BIN, `${server.url}/log.txt`])
    expect(all.code).toBe(0)
    expect(all.stdout.toString()).toBe('line 1\nline 2\n')
    const tail = await runCli(process.execPath, [BIN, '--offset', '7', `${server.url}/log.txt`])
    expect(tail.stdout.toString()).toBe('line 2\n')
  })

  it('exits 3 on 404, 1 on a refused connection, 2 on bad usage', async () => {
    const missing = await runCli(process.execPath, [BIN, `${server.url}/never`])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain('no such resource (404)')
    expect((await runCli(process.execPath, [BIN, 'http://127.0.0.1:1/x'])).code).toBe(1)
    const usage = await runCli(process.execPath, [BIN, '--offset', 'x', `${server.url}/x`])
    expect(usage.code).toBe(2)
  })
})
