import { readdirSync, readFileSync } from 'node:fs'

/** What a process holds now (Linux `/proc`): open file descriptors and resident memory. */
export interface ProcessResources {
  readonly fds: number
  /** Resident set size, bytes. */
  readonly rss: number
}

/** Reads a process's open descriptors and resident memory from `/proc/PID`. */
export function processResources(pid: number): ProcessResources {
  const fds = readdirSync(`/proc/${pid}/fd`).length
  const status = readFileSync(`/proc/${pid}/status`, 'latin1')
  const rss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024
  return { fds, rss }
}

/**
 * Runs `attempt` `count` times, `concurrency` at a time: a load of misbehaving clients bounded in
 * count (and in time by the caller's test timeout).
 */
export async function repeat(
  count: number,
  concurrency: number,
  attempt: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) await attempt(next++)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}
