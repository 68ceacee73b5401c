import { readFileSync } from 'node:fs'
import { ExitError, UsageError } from './errors.js'
import { type CommandLineSpec, type ParseArgsOptionsConfig, parseCommandLine } from './parse.js'

type Line<O extends ParseArgsOptionsConfig> = Exclude<
  ReturnType<typeof parseCommandLine<O>>,
  'help' | 'version'
>

/** A command line program: its options, its help, and what it does. */
export interface Command<O extends ParseArgsOptionsConfig> extends CommandLineSpec<O> {
  readonly name: string
  /** `--help`; its first paragraph (the `Usage:` lines) is shown with a usage error. */
  readonly help: string
  /** Exit codes of the library's errors, by their stable `code`; any other error exits 1. */
  readonly exitCodes?: Readonly<Record<string, number>>
  run(line: Line<O>): Promise<void> | void
}

/** The version in the package.json one level above a module (`dist/` or `src/`). */
export function packageVersion(moduleUrl: string): string {
  const manifest = readFileSync(new URL('../package.json', moduleUrl), 'utf8')
  return (JSON.parse(manifest) as { version: string }).version
}

function exitCodeOf(command: Command<ParseArgsOptionsConfig>, error: unknown): number {
  if (error instanceof ExitError) return error.exitCode
  const code = (error as { code?: unknown }).code
  return (typeof code === 'string' ? command.exitCodes?.[code] : undefined) ?? 1
}

/**
 * Runs a command line and sets `process.exitCode`: `--help` and `--version` print and exit 0; a
 * usage error prints the message and the usage text and exits 2; an ExitError (a server that
 * cannot start: 1) or a library error with a code in `exitCodes` exits with its code; anything
 * else exits 1. Every failure is one message on stderr, `name: …`.
 */
export async function runCommand<O extends ParseArgsOptionsConfig>(
  command: Command<O>,
  argv: readonly string[],
  version: string,
): Promise<void> {
  const { name } = command
  try {
    const line = parseCommandLine(command, argv)
    if (line === 'help') process.stdout.write(`${command.help}\n`)
    else if (line === 'version') process.stdout.write(`${name} ${version}\n`)
    else await command.run(line)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    if (error instanceof UsageError) {
      const usage = command.help.split('\n\n')[0] ?? ''
      process.stderr.write(`${name}: ${message}\n${usage}\nTry '${name} --help'.\n`)
      process.exitCode = 2
      return
    }
    process.stderr.write(`${name}: ${message}\n`)
    process.exitCode = exitCodeOf(command as Command<ParseArgsOptionsConfig>, error)
  }
}
