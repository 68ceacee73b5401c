import { readFileSync } from 'node:fs'

/** Samples a process's resident-set high-water mark until stopped. */
export interface PeakRssSampler {
  /** Stops sampling and returns the highest peak RSS seen, in bytes (0 if none could be read). */
  stop(): number
}

function readHighWaterMark(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1')
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(status)
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024
  } catch {
    return undefined
  }
}

/**
 * Reads the kernel's own peak-RSS counter (`VmHWM` in `/proc/PID/status`, Linux) every
 * `intervalMs`. The counter is monotonic, so sampling misses nothing but the last interval
 * before exit; call `stop()` just before the child exits (for example on its last output) when
 * that interval matters.
 */
export function samplePeakRss(pid: number, intervalMs = 20): PeakRssSampler {
  let peak = readHighWaterMark(pid) ?? 0
  const timer = setInterval(() => {
    const value = readHighWaterMark(pid)
    if (value !== undefined && value > peak) peak = value
  }, intervalMs)
  timer.unref()
  return {
    stop() {
      clearInterval(timer)
      const value = readHighWaterMark(pid)
      if (value !== undefined && value > peak) peak = value
      return peak
    },
  }
}
