import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { listen, runCli } from '@sluice/test-utils'
import { afterEach, describe, expect, it } from 'vitest'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))
const children: Array<ReturnType<typeof spawn>> = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
})

/** Starts the CLI and resolves with the URL it prints. */
async function startCli(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let output = ''
  child.stdout.setEncoding('utf8')
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      output += chunk
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match?.[1]) resolve(match[1])
    })
    child.once('exit', (code) => reject(new Error(`exited with ${code} before listening`)))
  })
  return { child, url, output: () => output }
}

describe('hash-server CLI', () => {
  it('prints help and exits 0', async () => {
    const result = await runCli(process.execPath, [BIN, '--help'])
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toContain('Usage: hash-server')
    expect(result.stdout.toString()).toContain('Exit codes')
  })

  it('exits 2 naming the problem on bad usage', async () => {
    for (const [args, message] of [
      [['--port', 'eighty'], '--port: "eighty" is not a whole number'],
      [['--algorithm', 'md5,nope'], '--algorithm: unsupported "nope"'],
      [['--max-body-size', '12 parsecs'], '--max-body-size: "12 parsecs" is not a byte size'],
      [['--bogus'], "Unknown option '--bogus'"],
    ] as const) {
      const result = await runCli(process.execPath, [BIN, ...args])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain(message)
    }
  })

  it('exits 1 when the port is taken', async () => {
    const blocker = await listen(createServer())
    try {
      const result = await runCli(process.execPath, [BIN, '--port', String(blocker.port)])
      expect(result.code).toBe(1)
      expect(result.stderr).toContain('EADDRINUSE')
    } finally {
      await blocker.close()
    }
  })

  it('serves with the chosen algorithm and limit, and exits 0 on SIGTERM', async () => {
    const { child, url } = await startCli([
      '--port',
      '0',
      '--algorithm',
      'sha256',
      '--max-body-size',
      '1k',
    ])
    const ok = await fetch(url, { method: 'POST', body: 'abc' })
    expect(await ok.text()).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n',
    )
    const big = await fetch(url, { method: 'POST', body: 'x'.repeat(1025) })
    expect(big.status).toBe(413)
    child.kill('SIGTERM')
    const [code] = await once(child, 'exit')
    expect(code).toBe(0)
  })

  it('runs several workers on one port', async () => {
    const { child, url, output } = await startCli(['--port', '0', '--workers', '2'])
    expect(output()).toContain('(2 workers)')
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        fetch(url, { method: 'POST', body: 'hello' }).then((r) => r.text()),
      ),
    )
    expect(new Set(answers)).toEqual(new Set(['5d41402abc4b2a76b9719d911017c592\n']))
    child.kill('SIGTERM')
    const [code] = await once(child, 'exit')
    expect(code).toBe(0)
  })
})
