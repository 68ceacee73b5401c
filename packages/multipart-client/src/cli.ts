import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { MultipartClientError } from './errors.js'
import { FormArgumentError, parseFormArgument } from './form-arg.js'
import type { Part } from './parts.js'
import { ProgressBar } from './progress.js'
import { upload } from './upload.js'

const HELP = `Usage: multipart-upload URL -F name=@path [-F name=value] [options]

Sends one streaming multipart/form-data request (curl -F compatible form arguments); the
response body goes to stdout.

Form:
  -F, --form name=@path[;type=T][;filename=F]   a file, streamed from disk
  -F, --form name=@-[;type=T][;filename=F]      standard input, streamed
  -F, --form name=value                         a text field (\\@ for a leading @)
Options:
  -X, --request METHOD   HTTP method (default POST)
  -H, --header 'K: V'    extra request header (repeatable)
  -f, --fail             exit 22 on an HTTP status >= 400 (the body is still printed)
      --retry N          retry N times on connection failures and 408/429/503 (files only)
  -s, --silent           no progress bar
  -h, --help             show this help

A progress bar with rate and ETA is drawn on stderr when stderr is a terminal.

Exit codes (as curl's): 0 done, 2 bad usage, 7 connection failed, 22 HTTP >= 400 with --fail,
26 a local file could not be read, 28 timeout, 1 anything else (aborted, unknown).`

/** An error that ends the command with a given exit code. */
class ExitError extends Error {
  override name = 'ExitError'
  readonly exitCode: number
  constructor(message: string, exitCode: number) {
    super(message)
    this.exitCode = exitCode
  }
}

const EXIT_CODES: Readonly<Record<string, number>> = {
  MPC_ERR_CONNECTION: 7,
  MPC_ERR_SOURCE: 26,
  MPC_ERR_TIMEOUT: 28,
  MPC_ERR_INVALID_ARGUMENT: 2,
}

function parseHeader(line: string): [string, string] {
  const colon = line.indexOf(':')
  if (colon <= 0) throw new ExitError(`-H ${JSON.stringify(line)}: expected 'Name: value'`, 2)
  return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()]
}

function readCommand(argv: string[]) {
  let parsed: ReturnType<typeof parse>
  function parse() {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        form: { type: 'string', short: 'F', multiple: true, default: [] },
        request: { type: 'string', short: 'X', default: 'POST' },
        header: { type: 'string', short: 'H', multiple: true, default: [] },
        fail: { type: 'boolean', short: 'f', default: false },
        retry: { type: 'string' },
        silent: { type: 'boolean', short: 's', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  }
  try {
    parsed = parse()
  } catch (error) {
    throw new ExitError((error as Error).message, 2)
  }
  const { values, positionals } = parsed
  if (values.help) return undefined
  if (positionals.length !== 1) throw new ExitError('expected exactly one URL', 2)
  const url = positionals[0] ?? ''
  if (!/^https?:\/\//i.test(url)) throw new ExitError(`not an http(s) URL: ${url}`, 2)
  if (values.form.length === 0)
    throw new ExitError('nothing to send: add -F name=@file or -F name=value', 2)
  let parts: Part[]
  try {
    parts = values.form.map((arg) => parseFormArgument(arg, () => process.stdin))
  } catch (error) {
    if (error instanceof FormArgumentError) throw new ExitError(error.message, 2)
    throw error
  }
  if (values.form.filter((arg) => /=@-(;|$)/.test(arg)).length > 1) {
    throw new ExitError('standard input can be sent only once', 2)
  }
  const retry = values.retry === undefined ? undefined : Number(values.retry)
  if (retry !== undefined && (!Number.isInteger(retry) || retry < 0)) {
    throw new ExitError(`--retry: "${values.retry}" is not a whole number`, 2)
  }
  return {
    url,
    parts,
    method: values.request.toUpperCase(),
    headers: Object.fromEntries(values.header.map(parseHeader)),
    fail: values.fail,
    retry,
    progress: !values.silent && process.stderr.isTTY === true,
  }
}

async function run(argv: string[]): Promise<void> {
  const command = readCommand(argv)
  if (command === undefined) {
    process.stdout.write(`${HELP}\n`)
    return
  }
  const bar = command.progress ? new ProgressBar(process.stderr) : undefined
  const controller = new AbortController()
  const onSignal = () => controller.abort()
  process.once('SIGINT', onSignal)
  try {
    const response = await upload(command.url, command.parts, {
      method: command.method,
      headers: command.headers,
      signal: controller.signal,
      ...(command.retry ? { retry: command.retry } : {}),
      ...(bar ? { onProgress: bar.onProgress } : {}),
    })
    bar?.finish()
    await pipeline(response.body, process.stdout)
    if (command.fail && response.status >= 400) {
      throw new ExitError(`the server answered ${response.status}`, 22)
    }
  } finally {
    process.off('SIGINT', onSignal)
  }
}

/** Runs the multipart-upload command line; sets `process.exitCode`. */
export async function main(argv: string[]): Promise<void> {
  // undici parses HTTP with llhttp compiled to WebAssembly; V8's background re-compilation of it
  // with its optimising tier costs ~35 MB of peak RSS, for a parser that reads one small
  // response here. The baseline tier is plenty. (Must be set before the first connection.)
  setFlagsFromString('--liftoff-only')
  try {
    await run(argv)
  } catch (error) {
    const code =
      error instanceof ExitError
        ? error.exitCode
        : error instanceof MultipartClientError
          ? (EXIT_CODES[error.code] ?? 1)
          : 1
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(
      `multipart-upload: ${message}\n${code === 2 ? "Try 'multipart-upload --help'.\n" : ''}`,
    )
    process.exitCode = code
  }
}
