import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

export { benchArgs } from '@sluice/test-utils'

export const execFileAsync = promisify(execFile)

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

export const MiB = 1024 * 1024

export function mibPerSecond(bytes: number, seconds: number): number {
  return bytes / MiB / seconds
}

/** `openssl speed` throughput of one algorithm on one core, in bytes per second, for a block size. */
export async function opensslSpeed(
  algorithm: string,
  blockSize: number,
  seconds = 3,
): Promise<number> {
  const { stdout } = await execFileAsync('openssl', [
    'speed',
    '-seconds',
    String(seconds),
    '-bytes',
    String(blockSize),
    algorithm,
  ])
  const line = stdout.trim().split('\n').at(-1) ?? ''
  const match = /([\d.]+)k\s*$/.exec(line)
  if (!match?.[1]) throw new Error(`cannot read openssl speed output: ${line}`)
  return Number(match[1]) * 1000
}

/** Runs curl and returns [stdout, seconds]. */
export async function curl(args: readonly string[]): Promise<[string, number]> {
  const started = process.hrtime.bigint()
  const { stdout } = await execFileAsync('curl', ['-sS', '--fail', '--max-time', '600', ...args], {
    maxBuffer: 1024 * 1024,
  })
  return [stdout, Number(process.hrtime.bigint() - started) / 1e9]
}

export function table(rows: ReadonlyArray<Record<string, string | number>>): string {
  const first = rows[0]
  if (first === undefined) return ''
  const columns = Object.keys(first)
  const width = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)))
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(width[i] ?? 0)).join(' | ')} |`
  return [
    line(columns),
    line(width.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => String(r[c])))),
  ].join('\n')
}
