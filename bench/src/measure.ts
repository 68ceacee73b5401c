import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
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

/** `/proc/PID/stat`'s fields after the command name (which may hold spaces), or undefined. */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/**
 * CPU seconds (user + system, every thread) used so far by a process and its live child
 * processes (`--workers`), from `/proc` (10 ms resolution).
 */
export function cpuSeconds(pid: number): number {
  const own = String(pid)
  let total = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const fields = statFields(entry)
    // The 2nd field is the parent's pid; utime and stime are the 12th and 13th.
    if (fields === undefined || (entry !== own && fields[1] !== own)) continue
    total += Number(fields[11]) + Number(fields[12])
  }
  return total / 100
}

/** CPU seconds (user + system) used so far by one thread of a process: its main thread by default. */
export function threadCpuSeconds(pid: number, tid: number = pid): number {
  const fields = statFields(`${pid}/task/${tid}`)
  return fields === undefined ? 0 : (Number(fields[11]) + Number(fields[12])) / 100
}

export function mibPerSecond(bytes: number, seconds: number): number {
  return bytes / MiB / seconds
}

/** `openssl speed` throughput of one algorithm on one core, in bytes per second, for a block size. */
export async function opensslSpeed(
  algorithm: string | readonly string[],
  blockSize: number,
  seconds = 3,
): Promise<number> {
  const { stdout } = await execFileAsync('openssl', [
    'speed',
    '-seconds',
    String(seconds),
    '-bytes',
    String(blockSize),
    ...(typeof algorithm === 'string' ? [algorithm] : algorithm),
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

/** MiB/s of `count` concurrent curl downloads of `url`, each `bytes` long (`args`: curl's own). */
export async function concurrentDownloads(
  url: string,
  count: number,
  bytes: number,
  args: readonly string[] = [],
): Promise<number> {
  const started = process.hrtime.bigint()
  await Promise.all(Array.from({ length: count }, () => curl([...args, '-o', '/dev/null', url])))
  return mibPerSecond(bytes * count, Number(process.hrtime.bigint() - started) / 1e9)
}
