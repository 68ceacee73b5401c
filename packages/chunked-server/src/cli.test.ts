import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  checkCommandLineConventions,
  runCli,
  startServerProcess,
  tempDir,
} from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))

describe('chunked-server CLI', () => {
  it('takes the seed flags -i and -p, serves, and exits 0 on SIGTERM', async () => {
    const dir = await tempDir('chunked-cli-')
    try {
      const root = join(dir.path, 'content')
      const cli = await startServerProcess(process.execPath, [BIN, '-i', '0', '-p', root])
      const { url } = cli
      expect((await fetch(`${url}/a.ts`, { method: 'PUT', body: 'segment' })).status).toBe(201)
      expect(await (await fetch(`${url}/a.ts`)).text()).toBe('segment')
      expect(await cli.stop()).toBe(0)
    } finally {
      await dir.remove()
    }
  })

  it('keeps objects in memory with -r, within --memory-budget', async () => {
    const cli = await startServerProcess(process.execPath, [
      BIN,
      '-i',
      '0',
      '-r',
      '--memory-budget',
      '1k',
    ])
    const { url } = cli
    expect((await fetch(`${url}/a.ts`, { method: 'PUT', body: 'x'.repeat(1000) })).status).toBe(201)
    expect((await fetch(`${url}/b.ts`, { method: 'PUT', body: 'x'.repeat(100) })).status).toBe(507)
    expect(await cli.stop()).toBe(0)
  })

  it('exits 2 on bad usage and prints help', async () => {
    const bad = await runCli(process.execPath, [BIN, '--port', 'x'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--port: "x" is not a TCP port')
    const lonely = await runCli(process.execPath, [BIN, '-c', 'cert.pem'])
    expect(lonely.code).toBe(2)
    expect(lonely.stderr).toContain('--cert and --key go together')
    const noCors = await runCli(process.execPath, [BIN, '-o', '/nonexistent/cors.json'])
    expect(noCors.code).toBe(2)
    expect(noCors.stderr).toContain('--cors: cannot read /nonexistent/cors.json')
    const unknown = await runCli(process.execPath, [BIN, '-x'])
    expect(unknown.code).toBe(2)
    const help = await runCli(process.execPath, [BIN, '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout.toString()).toContain('Usage: chunked-server')
  })
})

describe('the command line conventions', () => {
  it('holds for chunked-server', { timeout: 120_000 }, async () => {
    const dir = await tempDir('chunked-conventions-')
    await checkCommandLineConventions({
      command: [process.execPath, BIN],
      name: 'chunked-server',
      args: ['-p', dir.path],
      portFlag: '--port',
      sizeFlag: '--max-object-size',
      dataFlag: '--path',
    })
  })
})
