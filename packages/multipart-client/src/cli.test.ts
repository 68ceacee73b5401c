import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHashServer } from '@sluice/hash-server'
import { checkCommandLineConventions, listen, runCli, tempDir } from '@sluice/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBusboyServer } from '../test/servers.js'
import { parseFormArgument } from './form-arg.js'
import { ProgressBar } from './progress.js'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))
const md5 = (data: string | Buffer) => createHash('md5').update(data).digest('hex')
const cli = (args: string[], input?: string) =>
  runCli(process.execPath, [BIN, ...args], input === undefined ? {} : { input })

let dir: Awaited<ReturnType<typeof tempDir>>
let fileA: string
beforeAll(async () => {
  dir = await tempDir('multipart-cli-')
  fileA = join(dir.path, 'a.txt')
  await writeFile(fileA, 'contents of a')
})
afterAll(() => dir.remove())

async function hashServer(options: Parameters<typeof createHashServer>[0] = {}) {
  const server = await listen(createHashServer({ onError: () => {}, ...options }))
  return server
}

describe('multipart-upload CLI', () => {
  it('uploads files, stdin and fields in one request and prints the response body', async () => {
    const server = await hashServer()
    const result = await cli(
      [
        server.url,
        '-F',
        `a=@${fileA}`,
        '-F',
        'in=@-;filename=stdin.txt',
        '-F',
        'field=value',
        '-F',
        `b=@${fileA};filename=renamed.txt;type=text/x-a`,
      ],
      'from stdin',
    )
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toBe(
      `${md5('contents of a')}  a.txt\n${md5('from stdin')}  stdin.txt\n${md5('value')}  field\n${md5('contents of a')}  renamed.txt\n`,
    )
  })

  it('sends -X and -H, and the types and filenames given', async () => {
    const server = await startBusboyServer()
    const result = await cli([
      `${server.url}/x`,
      '-X',
      'put',
      '-H',
      'X-Token: abc',
      '-F',
      `b=@${fileA};filename=r.txt;type=text/x-a`,
    ])
    expect(result.code).toBe(0)
    expect(server.requests[0]?.headers['x-token']).toBe('abc')
    expect(JSON.parse(result.stdout.toString())).toMatchObject([
      { name: 'b', filename: 'r.txt', mimeType: 'text/x-a' },
    ])
  })

  it('exits 22 with --fail on HTTP >= 400, still printing the body, and 0 without --fail', async () => {
    const server = await hashServer({ maxBodySize: 4 })
    const failing = await cli([server.url, '--fail', '-F', `a=@${fileA}`])
    expect(failing.code).toBe(22)
    expect(failing.stdout.toString()).toContain('exceeds the limit')
    expect(failing.stderr).toContain('the server answered 413')
    const lenient = await cli([server.url, '-F', `a=@${fileA}`])
    expect(lenient.code).toBe(0)
  })

  // Ten CLI processes: seconds on a loaded machine.
  it('exits 7 on a refused connection, 26 on a missing file, 2 on bad usage', {
    timeout: 60_000,
  }, async () => {
    const refused = await cli(['http://127.0.0.1:1/', '-F', 'a=b'])
    expect(refused.code).toBe(7)
    expect(refused.stderr).toContain('ECONNREFUSED')
    const missing = await cli(['http://127.0.0.1:1/', '-F', `a=@${join(dir.path, 'nope')}`])
    expect(missing.code).toBe(26)
    expect(missing.stderr).toContain('ENOENT')
    for (const [args, message] of [
      [[], 'expected one URL'],
      [['ftp://x/', '-F', 'a=b'], 'not an http(s) URL'],
      [['http://127.0.0.1:1/'], 'nothing to send'],
      [['http://127.0.0.1:1/', '-F', 'novalue'], 'expected name=value'],
      [['http://127.0.0.1:1/', '-F', 'a=@x;size=3'], 'unknown modifier "size"'],
      [['http://127.0.0.1:1/', '-F', 'a=b', '-H', 'bad header'], "expected 'Name: value'"],
      [['http://127.0.0.1:1/', '-F', 'a=@-', '--retry', '2'], 'one-shot stream'],
      [['http://127.0.0.1:1/', '-F', 'a=b', '--retry', 'x'], '--retry'],
    ] as const) {
      const result = await cli([...args])
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr).toContain(message)
      // Every usage error carries the usage text, as the root README promises.
      expect(result.stderr, args.join(' ')).toMatch(
        /\nUsage: multipart-upload [\s\S]*Try 'multipart-upload --help'\.\n$/,
      )
    }
  })

  it('prints help', async () => {
    const result = await cli(['--help'])
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toContain('Exit codes')
  })
})

describe('parseFormArgument', () => {
  const stdin = () => createReadStream('/dev/null')
  it('reads fields, files and modifiers like curl -F', () => {
    expect(parseFormArgument('a=b=c', stdin)).toEqual({ name: 'a', value: 'b=c' })
    expect(parseFormArgument('a=\\@x', stdin)).toEqual({ name: 'a', value: '@x' })
    expect(parseFormArgument('f=@/tmp/x.bin', stdin)).toEqual({ name: 'f', path: '/tmp/x.bin' })
    expect(parseFormArgument('f=@x.bin;type=image/png;filename="y z.png"', stdin)).toEqual({
      name: 'f',
      path: 'x.bin',
      contentType: 'image/png',
      filename: 'y z.png',
    })
    expect(parseFormArgument('f=@-', stdin)).toMatchObject({ name: 'f', filename: '-' })
  })
})

describe('ProgressBar.render', () => {
  it('shows a bar, percentage, rate and ETA for a known total', () => {
    const line = ProgressBar.render(
      { loaded: 512 * 1024 * 1024, total: 1024 * 1024 * 1024, part: 'f' },
      2000,
      100,
    )
    expect(line).toMatch(/^\[#+-+\]\s+50%\s+512\.0 MiB \/ 1\.0 GiB\s+256\.0 MiB\/s\s+ETA 00:02$/)
  })

  it('shows bytes and rate when the total is unknown', () => {
    expect(ProgressBar.render({ loaded: 2048, total: undefined, part: 'f' }, 1000, 80)).toBe(
      '2.0 KiB  2.0 KiB/s',
    )
  })
})

describe('the command line conventions', () => {
  it('holds for multipart-upload', { timeout: 120_000 }, async () => {
    await checkCommandLineConventions({
      command: [process.execPath, BIN],
      name: 'multipart-upload',
      args: ['http://127.0.0.1:1/', '-F', 'a=b'],
    })
  })
})
