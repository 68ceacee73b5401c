import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { expect } from 'vitest'
import { listen } from './listen.js'
import { tempDir } from './payload.js'
import { runCli } from './run-cli.js'
import { startServerProcess } from './server-process.js'

/** How a sluice command line is run and what it takes. */
export interface CommandLineConventions {
  /** The program and its first arguments, as spawn takes them: `[process.execPath, BIN]`. */
  readonly command: readonly [string, ...string[]]
  readonly name: string
  /** Arguments that complete a valid command line (a server's data directory, a client's URL). */
  readonly args?: readonly string[]
  /** A server: started on port 0, stopped by SIGTERM, refused (exit 1) on a port in use. */
  readonly portFlag?: string
  /** A byte-size option: `1TiB` and `512k` taken, `lots` refused. */
  readonly sizeFlag?: string
  /**
   * A server's data directory (`--root`, `--path`, `--store`): created with its parents when
   * missing; nothing created when the server cannot start; a file in its place refused (exit 1).
   */
  readonly dataFlag?: string
  /** Arguments that make `dataFlag` used (another flag that enables it), if any. */
  readonly dataArgs?: readonly string[]
}

/**
 * Checks the conventions every sluice command line shares, through its real entry point:
 * `--version` and `--help` exit 0; an unknown option exits 2 with the usage text; a port and a
 * byte size are read with the one grammar of the CLI layer; a server starts on port 0, exits 0 on
 * SIGTERM, and exits 1 with one line when it cannot start; a server's data directory is created
 * when missing, and left uncreated when the server cannot start.
 */
export async function checkCommandLineConventions(cli: CommandLineConventions): Promise<void> {
  const [program, ...first] = cli.command
  const run = (...args: string[]) => runCli(program, [...first, ...args], { timeoutMs: 30_000 })
  const { name } = cli
  const args = cli.args ?? []

  const version = await run('--version')
  expect(version.code, version.stderr).toBe(0)
  expect(version.stdout.toString()).toMatch(new RegExp(`^${name} \\d+\\.\\d+\\.\\d+\\S*\\n$`))
  const help = await run('--help')
  expect(help.code).toBe(0)
  expect(help.stdout.toString()).toMatch(new RegExp(`^Usage: ${name} `))

  const usage = await run(...args, '--no-such-option')
  expect(usage.code).toBe(2)
  expect(usage.stderr).toMatch(
    new RegExp(
      `^${name}: unknown option --no-such-option\\nUsage: ${name} [^]*Try '${name} --help'\\.\\n$`,
    ),
  )

  if (cli.sizeFlag !== undefined) {
    const port = cli.portFlag === undefined ? [] : [cli.portFlag, '0']
    const size = await run(...args, ...port, cli.sizeFlag, 'lots')
    expect(size.code).toBe(2)
    expect(size.stderr).toContain(`${cli.sizeFlag}: "lots" is not a byte size`)
  }
  if (cli.portFlag === undefined) return

  const badPort = await run(...args, cli.portFlag, '70000')
  expect(badPort.code).toBe(2)
  expect(badPort.stderr).toContain(`${cli.portFlag}: "70000" is not a TCP port`)
  for (const size of cli.sizeFlag === undefined ? [undefined] : ['1TiB', '512k']) {
    const sizeArgs = size === undefined || cli.sizeFlag === undefined ? [] : [cli.sizeFlag, size]
    const server = await startServerProcess(program, [
      ...first,
      ...args,
      cli.portFlag,
      '0',
      ...sizeArgs,
    ])
    expect(server.output()).toMatch(new RegExp(`^${name} listening on `, 'm'))
    expect(await server.stop()).toBe(0)
  }
  const taken = await listen(createServer())
  const inUse = await run(...args, cli.portFlag, String(taken.port))
  await taken.close()
  expect(inUse.code).toBe(1)
  const lines = inUse.stderr.trim().split('\n')
  expect(lines, inUse.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(new RegExp(`^${name}: cannot start: .*EADDRINUSE`))
  if (cli.dataFlag !== undefined) await checkDataDirectory(cli, run)
}

async function checkDataDirectory(
  cli: CommandLineConventions,
  run: (...args: string[]) => ReturnType<typeof runCli>,
): Promise<void> {
  const [program, ...first] = cli.command
  const flag = cli.dataFlag ?? ''
  const data = [...(cli.args ?? []), ...(cli.dataArgs ?? [])]
  const dir = await tempDir('sluice-data-dir-')
  const fresh = join(dir.path, 'fresh', 'data')
  const server = await startServerProcess(program, [
    ...first,
    ...data,
    flag,
    fresh,
    cli.portFlag ?? '',
    '0',
  ])
  expect(existsSync(fresh), `${flag} ${fresh} is created`).toBe(true)
  expect(await server.stop()).toBe(0)

  const taken = await listen(createServer())
  const never = join(dir.path, 'never', 'data')
  const inUse = await run(...data, flag, never, cli.portFlag ?? '', String(taken.port))
  await taken.close()
  expect(inUse.code, inUse.stderr).toBe(1)
  expect(existsSync(join(dir.path, 'never')), `${flag}: nothing is left of a failed start`).toBe(
    false,
  )

  const file = join(dir.path, 'file')
  await writeFile(file, 'not a directory')
  const notDirectory = await run(...data, flag, file, cli.portFlag ?? '', '0')
  expect(notDirectory.code, notDirectory.stderr).toBe(1)
  expect(notDirectory.stderr).toMatch(new RegExp(`^${cli.name}: cannot start: ${flag} ${file} `))
  await dir.remove()
}
