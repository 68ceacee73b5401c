import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { freePort, missingNatsServer, runCli, startServerProcess } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'

const DEV = fileURLToPath(new URL('./dev.ts', import.meta.url))
const REPOSITORY = fileURLToPath(new URL('../../..', import.meta.url))

describe('pnpm dev', () => {
  it('prints a command that appends from a terminal, and the command works as printed', async () => {
    const port = await freePort()
    const dev = await startServerProcess(process.execPath, ['--import', 'tsx', DEV], {
      PORT: String(port),
    })
    await expect.poll(() => dev.output()).toContain('append from a terminal: ')
    const printed = /append from a terminal: (.+)$/m.exec(dev.output())?.[1] ?? ''
    const [source, command] = printed.split(' | ')
    // The example's file exists where the demo is documented to run (Debian, Ubuntu).
    const file = /^tail -f (\S+)$/.exec(source ?? '')?.[1] ?? ''
    if (existsSync('/etc/debian_version')) expect(existsSync(file), file).toBe(true)
    const run = await runCli('bash', ['-c', `printf 'one\\ntwo\\n' | ${command}`], {
      cwd: REPOSITORY,
      timeoutMs: 60_000,
    })
    expect(run.code, run.stderr.toString()).toBe(0)
    const url = /(http:\/\/\S+)$/.exec(command ?? '')?.[1] ?? ''
    expect(await (await fetch(url)).text()).toBe('one\ntwo\n')
  })

  it('LIVE_LOG_NATS=1: two nodes on JetStream serve the same logs, each saying which it is', async (context) => {
    const missing = missingNatsServer()
    if (missing) return context.skip(missing)
    const port = await freePort()
    const dev = await startServerProcess(process.execPath, ['--import', 'tsx', DEV], {
      PORT: String(port),
      LIVE_LOG_NATS: '1',
    })
    await expect.poll(() => dev.output()).toContain('[live-log] node B listening on')
    const listing = async (nodePort: number) =>
      (await (await fetch(`http://127.0.0.1:${nodePort}/logs.json`)).json()) as {
        logs: string[]
        node: string
      }
    await expect.poll(async () => (await listing(port + 2)).logs).toContain('/logs/clock.log')
    expect((await listing(port)).node).toBe('node A')
    expect((await listing(port + 2)).node).toBe('node B')
    // The clock appends through node A; node B serves its lines as they come.
    const length = async () =>
      (await (await fetch(`http://127.0.0.1:${port + 2}/logs/clock.log`)).text()).length
    const before = await length()
    await expect.poll(length, { timeout: 15_000 }).toBeGreaterThan(before)
  })
})
