import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runCli, startServerProcess } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import {
  byteSizeOption,
  countOption,
  millisecondsOption,
  offsetOption,
  parseCommandLine,
  portOption,
  UsageError,
} from './index.js'

describe('the option grammar', () => {
  it('reads byte sizes in powers of 1024, with or without iB, in any case', () => {
    for (const [text, bytes] of [
      ['0', 0],
      ['1048576', 1048576],
      ['512k', 512 * 1024],
      ['512K', 512 * 1024],
      ['1M', 2 ** 20],
      ['1MiB', 2 ** 20],
      ['1mb', 2 ** 20],
      ['2G', 2 * 2 ** 30],
      ['1GiB', 2 ** 30],
      ['1T', 2 ** 40],
      ['1tib', 2 ** 40],
      ['100B', 100],
    ] as const) {
      expect(byteSizeOption('--size', text), text).toBe(bytes)
    }
    for (const text of ['', '1.5M', '-1', 'M', '1X', '1 M B', '99999999999T']) {
      expect(() => byteSizeOption('--size', text), text).toThrow(UsageError)
    }
    expect(() => byteSizeOption('--size', 'lots')).toThrow(
      '--size: "lots" is not a byte size (like 1048576, 512k, 1M, 1GiB)',
    )
  })

  it('reads ports, counts, durations and signed offsets', () => {
    expect(portOption('--port', '0')).toBe(0)
    expect(portOption('--port', '65535')).toBe(65535)
    for (const text of ['65536', '-1', 'x', '', '80.5']) {
      expect(() => portOption('--port', text), text).toThrow(UsageError)
    }
    expect(() => portOption('--port', '70000')).toThrow('--port: "70000" is not a TCP port')
    expect(() => portOption('--port', undefined)).toThrow('--port N is required')
    expect(countOption('--workers', '4', 1)).toBe(4)
    expect(() => countOption('--workers', '0', 1)).toThrow('--workers: "0" is less than 1')
    expect(millisecondsOption('--wait', '1500')).toBe(1500)
    expect(() => millisecondsOption('--wait', '1.5')).toThrow('is not a number of milliseconds')
    expect(offsetOption('--offset', '-1000')).toBe(-1000)
    expect(offsetOption('--offset', '42')).toBe(42)
    for (const text of ['+3', '0x10', '', '1e3']) {
      expect(() => offsetOption('--offset', text), text).toThrow(UsageError)
    }
  })
})

describe('parseCommandLine', () => {
  const spec = {
    options: { offset: { type: 'string' }, verbose: { type: 'boolean', short: 'v' } },
    positionals: { min: 1, max: 1, name: 'URL' },
  } as const

  it('takes negative numbers as option values, and --help and --version', () => {
    const line = parseCommandLine(spec, ['--offset', '-1000', 'http://x/'])
    expect(line).toEqual({ values: { offset: '-1000' }, positionals: ['http://x/'] })
    expect(parseCommandLine(spec, ['-h'])).toBe('help')
    expect(parseCommandLine(spec, ['--version'])).toBe('version')
  })

  it('says what is wrong in plain words', () => {
    for (const [argv, message] of [
      [['--nope', 'u'], 'unknown option --nope'],
      [['-x', 'u'], 'unknown option -x'],
      [['u', '--offset'], '--offset needs a value'],
      [['--verbose=yes', 'u'], '--verbose takes no value'],
      [['u', 'w'], 'expected one URL, got 2'],
      [[], 'expected one URL'],
    ] as const) {
      expect(() => parseCommandLine(spec, argv), argv.join(' ')).toThrow(message)
    }
    expect(() => parseCommandLine({ options: {} }, ['extra'])).toThrow(
      'unexpected argument "extra"',
    )
  })
})

describe('runCommand', () => {
  const FIXTURE = fileURLToPath(new URL('../../test/command-fixture.ts', import.meta.url))
  const run = (...args: string[]) =>
    runCli(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { timeoutMs: 30_000 })

  it('runs, prints help and version, and gives every failure its exit code and one message', {
    timeout: 60_000,
  }, async () => {
    const ok = await run('--offset', '-5', 'word')
    expect([ok.code, ok.stdout.toString()]).toEqual([0, 'word -5\n'])
    const help = await run('--help')
    expect([help.code, help.stdout.toString()]).toEqual([
      0,
      'Usage: fixture [--offset N] [--fail KIND] WORD\n\nA command for tests.\n',
    ])
    expect((await run('--version')).stdout.toString()).toBe('fixture 1.2.3\n')
    const usage = await run('--offset', 'x', 'word')
    expect(usage.code).toBe(2)
    expect(usage.stderr).toBe(
      'fixture: --offset: "x" is not a byte offset (a whole number, negative from the end)\n' +
        "Usage: fixture [--offset N] [--fail KIND] WORD\nTry 'fixture --help'.\n",
    )
    for (const [kind, code, message] of [
      ['start', 1, 'fixture: cannot start: port 1 in use\n'],
      ['exit', 22, 'fixture: the server answered 500\n'],
      ['library', 3, 'fixture: gone\n'],
      ['other', 1, 'fixture: surprise\n'],
    ] as const) {
      const failed = await run('--fail', kind, 'word')
      expect([failed.code, failed.stderr], kind).toEqual([code, message])
    }
  })
})

describe('scratchDir', () => {
  const FIXTURE = fileURLToPath(new URL('../../test/scratch-fixture.ts', import.meta.url))

  it('is removed with its files when the process exits, however it exits', async () => {
    for (const how of ['ok', 'fail']) {
      const run = await runCli(process.execPath, ['--import', 'tsx', FIXTURE, how], {
        timeoutMs: 30_000,
      })
      const dir = run.stdout.toString().trim()
      expect(dir).toMatch(/sluice-scratch-test-/)
      expect(run.code).toBe(how === 'ok' ? 0 : 1)
      expect(existsSync(dir)).toBe(false)
    }
  })

  it('removes what a killed process left behind, and only that', async () => {
    const parent = tmpdir()
    const dead = join(parent, 'sluice-scratch-test-999999999-abc')
    const alive = join(parent, `sluice-scratch-test-${process.pid}-abc`)
    await mkdir(dead, { recursive: true })
    await mkdir(alive, { recursive: true })
    try {
      const run = await runCli(process.execPath, ['--import', 'tsx', FIXTURE, 'ok'], {
        timeoutMs: 30_000,
      })
      expect(run.code).toBe(0)
      expect(existsSync(dead)).toBe(false)
      expect(existsSync(alive)).toBe(true)
    } finally {
      await rm(alive, { recursive: true, force: true })
    }
  })
})

describe('serve() on signals', () => {
  const FIXTURE = fileURLToPath(new URL('../../test/serve-fixture.ts', import.meta.url))

  it('drains once and runs its exit handlers however many signals come (Ctrl-C under turbo)', async () => {
    const served = await startServerProcess(process.execPath, ['--import', 'tsx', FIXTURE])
    const dir = served.output().split('\n')[0] ?? ''
    expect(existsSync(dir)).toBe(true)
    // A request held open: the drain lasts until its bound.
    const held = await fetch(`${served.url}/`)
    expect(held.status).toBe(200)
    const exited = new Promise<[number | null, string | null]>((resolve) =>
      served.child.once('exit', (code, signal) => resolve([code, signal])),
    )
    served.child.kill('SIGINT')
    await new Promise((resolve) => setTimeout(resolve, 100))
    served.child.kill('SIGINT')
    served.child.kill('SIGTERM')
    expect(await exited).toEqual([0, null])
    expect(existsSync(dir)).toBe(false)
  })
})
