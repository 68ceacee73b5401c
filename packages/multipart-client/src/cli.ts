import { pipeline } from 'node:stream/promises'
import { setFlagsFromString } from 'node:v8'
import {
  countOption,
  ExitError,
  packageVersion,
  runCommand,
  UsageError,
} from '@sluice/internal/cli'
import { InvalidArgumentError } from './errors.js'
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
      --version          show the version

A progress bar with rate and ETA is drawn on stderr when stderr is a terminal.

Exit codes (as curl's): 0 done (or --help, --version), 2 bad usage, 7 connection failed, 22 HTTP >= 400 with --fail,
26 a local file could not be read, 28 timeout, 1 anything else (aborted, unknown).`

/** Exit codes of the library's errors, as curl's. */
const EXIT_CODES: Readonly<Record<string, number>> = {
  MPC_ERR_CONNECTION: 7,
  MPC_ERR_SOURCE: 26,
  MPC_ERR_TIMEOUT: 28,
}

function parseHeader(line: string): [string, string] {
  const colon = line.indexOf(':')
  if (colon <= 0) throw new UsageError(`-H ${JSON.stringify(line)}: expected 'Name: value'`)
  return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()]
}

function formParts(form: readonly string[]): Part[] {
  if (form.length === 0) throw new UsageError('nothing to send: add -F name=@file or -F name=value')
  if (form.filter((arg) => /=@-(;|$)/.test(arg)).length > 1) {
    throw new UsageError('standard input can be sent only once')
  }
  try {
    return form.map((arg) => parseFormArgument(arg, () => process.stdin))
  } catch (error) {
    if (error instanceof FormArgumentError) throw new UsageError(error.message)
    throw error
  }
}

/** Runs the multipart-upload command line; sets `process.exitCode`. */
export function main(argv: readonly string[]): Promise<void> {
  // undici parses HTTP with llhttp compiled to WebAssembly; V8's background re-compilation of it
  // with its optimising tier costs ~35 MB of peak RSS, for a parser that reads one small
  // response here. The baseline tier is plenty. (Must be set before the first connection.)
  setFlagsFromString('--liftoff-only')
  return runCommand(
    {
      name: 'multipart-upload',
      help: HELP,
      exitCodes: EXIT_CODES,
      positionals: { min: 1, max: 1, name: 'URL' },
      options: {
        form: { type: 'string', short: 'F', multiple: true, default: [] },
        request: { type: 'string', short: 'X', default: 'POST' },
        header: { type: 'string', short: 'H', multiple: true, default: [] },
        fail: { type: 'boolean', short: 'f', default: false },
        retry: { type: 'string' },
        silent: { type: 'boolean', short: 's', default: false },
      },
      async run({ values, positionals }) {
        const url = positionals[0] ?? ''
        if (!/^https?:\/\//i.test(url)) throw new UsageError(`not an http(s) URL: ${url}`)
        const parts = formParts(values.form)
        const headers = Object.fromEntries(values.header.map(parseHeader))
        const retry = values.retry === undefined ? undefined : countOption('--retry', values.retry)
        const bar =
          !values.silent && process.stderr.isTTY === true
            ? new ProgressBar(process.stderr)
            : undefined
        const controller = new AbortController()
        const onSignal = () => controller.abort()
        process.once('SIGINT', onSignal)
        try {
          const response = await upload(url, parts, {
            method: values.request.toUpperCase(),
            headers,
            signal: controller.signal,
            ...(retry ? { retry } : {}),
            ...(bar ? { onProgress: bar.onProgress } : {}),
          }).catch((error: unknown) => {
            // What the library refuses before sending anything is how the command was written.
            if (error instanceof InvalidArgumentError) throw new UsageError(error.message)
            throw error
          })
          bar?.finish()
          await pipeline(response.body, process.stdout)
          if (values.fail && response.status >= 400) {
            throw new ExitError(`the server answered ${response.status}`, 22)
          }
        } finally {
          process.off('SIGINT', onSignal)
        }
      },
    },
    argv,
    packageVersion(import.meta.url),
  )
}
