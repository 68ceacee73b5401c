import { spawn } from 'node:child_process'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { samplePeakRss } from './peak-rss.js'

export interface RunCliOptions {
  /** Bytes or a stream for the child's stdin; stdin is closed at once when absent. */
  readonly input?: string | Uint8Array | Readable
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
  /** Kills the child with SIGKILL after this many ms (default 60 000). */
  readonly timeoutMs?: number
  /** Samples the child's peak RSS while it runs. */
  readonly measureRss?: boolean
}

export interface CliResult {
  /** Exit code, or null when the child was killed by a signal. */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: Buffer
  readonly stderr: string
  /** Peak RSS in bytes when `measureRss` was set, otherwise 0. */
  readonly peakRss: number
}

/** Runs a command to completion and collects its output (for CLI tests, so bounded output only). */
export async function runCli(
  command: string,
  args: readonly string[],
  options: RunCliOptions = {},
): Promise<CliResult> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const rss = options.measureRss && child.pid !== undefined ? samplePeakRss(child.pid) : undefined
  const stdout: Buffer[] = []
  const stderr: Buffer[] = []
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve([code, signal]))
  })
  const input = options.input
  const fed =
    input === undefined
      ? Promise.resolve(child.stdin.end())
      : typeof input === 'string' || input instanceof Uint8Array
        ? Promise.resolve(child.stdin.end(input))
        : pipeline(input, child.stdin)
  // A child that exits without reading all of stdin makes the pipe fail with EPIPE: that is the
  // child's business, its exit code tells the story.
  const stdinDone = fed.catch(() => {})
  child.stdin.on('error', () => {})
  try {
    const [code, signal] = await exited
    await stdinDone
    return {
      code,
      signal,
      stdout: Buffer.concat(stdout),
      stderr: Buffer.concat(stderr).toString('utf8'),
      peakRss: rss?.stop() ?? 0,
    }
  } finally {
    clearTimeout(timer)
    rss?.stop()
  }
}
