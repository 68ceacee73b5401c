import { type ParseArgsConfig, parseArgs } from 'node:util'
import { UsageError } from './errors.js'

/** The `options` of node's parseArgs. */
export type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>

/** What a command line is made of: its options, and how many positional arguments it takes. */
export interface CommandLineSpec<O extends ParseArgsOptionsConfig> {
  readonly options: O
  /** Positional arguments: how many, and what one is called in messages (`URL`). */
  readonly positionals?: { readonly min: number; readonly max: number; readonly name: string }
}

/** The options of every command line. */
const STANDARD: {
  readonly help: { readonly type: 'boolean'; readonly short: 'h' }
  readonly version: { readonly type: 'boolean' }
} = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const satisfies ParseArgsOptionsConfig

/**
 * Lets a string option take a negative number as its value (`--offset -1000`), which node's
 * parseArgs reads as an option of its own ("argument is ambiguous").
 */
function joinNegativeValues(argv: readonly string[], options: ParseArgsOptionsConfig): string[] {
  const takesValue = new Set<string>()
  for (const [name, option] of Object.entries(options)) {
    if (option.type !== 'string') continue
    takesValue.add(`--${name}`)
    if (option.short !== undefined) takesValue.add(`-${option.short}`)
  }
  const joined: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const next = argv[i + 1]
    if (takesValue.has(arg) && next !== undefined && /^-\d/.test(next)) {
      joined.push(arg.startsWith('--') ? `${arg}=${next}` : `${arg}${next}`)
      i++
    } else {
      joined.push(arg)
    }
  }
  return joined
}

/** node's parseArgs messages, said plainly. */
function plainly(error: Error & { code?: string }): UsageError {
  const message = error.message
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? ''
  // `-v, --verbose <value>`: the long name says it best.
  const names = quoted.split(/[\s,]+/).filter((word) => word.startsWith('-'))
  const flag = names.find((name) => name.startsWith('--')) ?? names[0] ?? quoted
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown option ${flag}`)
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument "${quoted}"`)
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new UsageError(
        /does not take an argument/.test(message)
          ? `${flag} takes no value`
          : `${flag} needs a value`,
      )
    default:
      return new UsageError(message)
  }
}

type Parsed<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ options: O & typeof STANDARD; allowPositionals: true; strict: true }>
>

/** The options and positional arguments of a command line, or 'help' / 'version'. */
export type CommandLine<O extends ParseArgsOptionsConfig> =
  | { readonly values: Parsed<O>['values']; readonly positionals: string[] }
  | 'help'
  | 'version'

/**
 * Reads a command line with node's parseArgs, adding `-h/--help` and `--version`, accepting
 * negative numbers as option values, and turning every parser complaint into a UsageError in
 * plain words.
 */
export function parseCommandLine<O extends ParseArgsOptionsConfig>(
  spec: CommandLineSpec<O>,
  argv: readonly string[],
): CommandLine<O> {
  const options = { ...spec.options, ...STANDARD }
  let parsed: Parsed<O>
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, options),
      options,
      allowPositionals: true,
      strict: true,
    }) as Parsed<O>
  } catch (error) {
    throw plainly(error as Error & { code?: string })
  }
  const values = parsed.values as { help?: boolean; version?: boolean }
  if (values.help) return 'help'
  if (values.version) return 'version'
  const { min, max, name } = spec.positionals ?? { min: 0, max: 0, name: 'argument' }
  const count = parsed.positionals.length
  if (count > max) {
    throw new UsageError(
      max === 0
        ? `unexpected argument "${parsed.positionals[0]}"`
        : `expected ${max === 1 ? `one ${name}` : `at most ${max} ${name}s`}, got ${count}`,
    )
  }
  if (count < min) throw new UsageError(`expected ${min === 1 ? `one ${name}` : `${min} ${name}s`}`)
  return { values: parsed.values, positionals: parsed.positionals }
}
