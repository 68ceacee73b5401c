import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { freePort, runCli, startServerProcess } from '@sluice/test-utils'
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
})
