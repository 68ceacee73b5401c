import { connect, type Socket } from 'node:net'
import { expect } from 'vitest'
import { processResources, repeat } from './process-resources.js'

/**
 * Resolves with the first bytes the peer sends; rejects when the connection ends without any
 * (every request gets an answer: a server that drops one silently fails the test, never hangs it).
 */
export function firstBytes(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      socket.off('close', onClose)
      resolve(chunk)
    }
    const onClose = () => {
      socket.off('data', onData)
      reject(new Error('the connection was closed without an answer'))
    }
    socket.once('data', onData)
    socket.once('close', onClose)
  })
}

/**
 * Sends the start of a request on a fresh connection and cuts it: a moment after sending, or
 * once the first bytes of the answer came (`afterAnswer`; rejects when none come).
 */
export async function cutConnection(
  port: number,
  bytes: string | Buffer,
  options: { readonly afterAnswer?: boolean } = {},
): Promise<void> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write(bytes)
  try {
    if (options.afterAnswer) await firstBytes(socket)
    else await new Promise((resolve) => setTimeout(resolve, 2))
  } finally {
    socket.destroy()
  }
}

export interface AbortedRequestsOptions {
  /** Of each kind, in each round (default 1,000). */
  readonly count?: number
  /** At once (default 50). */
  readonly concurrency?: number
}

/** Growth of a server's memory over one round that counts as a leak. */
const LEAK_BOUND = 48 * 1024 * 1024
/** Rounds after the first in which the working set may still settle. */
const SETTLING_ROUNDS = 4

/**
 * Runs every kind of aborted request `count` times against server processes, round after round,
 * and checks that a round leaves no descriptor and no memory behind. The first rounds grow the
 * working set (buffers of many clients at once; V8 and the allocator keep what they grew to, Node
 * 24 for a round or two longer than Node 20), then it settles: a leak shows as growth in every
 * round, so a round must come, within a few, that grows each server by less than 48 MiB. Run the
 * servers with a small heap (`--max-old-space-size=64`): a leak of even a few hundred bytes per
 * request then ends the process.
 */
export async function checkAbortedRequests(
  pids: readonly number[],
  kinds: ReadonlyArray<(index: number) => Promise<void>>,
  options: AbortedRequestsOptions = {},
): Promise<void> {
  const count = options.count ?? 1_000
  const concurrency = options.concurrency ?? 50
  const initial = pids.map((pid) => processResources(pid).fds)
  for (const kind of kinds) await repeat(count, concurrency, kind)
  for (const [i, pid] of pids.entries()) {
    await expect
      .poll(() => processResources(pid).fds, { timeout: 20_000 })
      .toBeLessThanOrEqual((initial[i] ?? 0) + 10)
  }
  let grown: number[] = []
  for (let round = 0; round < SETTLING_ROUNDS; round++) {
    const before = pids.map(processResources)
    for (const kind of kinds) await repeat(count, concurrency, kind)
    for (const [i, pid] of pids.entries()) {
      await expect
        .poll(() => processResources(pid).fds, { timeout: 20_000 })
        .toBeLessThanOrEqual((before[i]?.fds ?? 0) + 2)
    }
    grown = pids.map((pid, i) => processResources(pid).rss - (before[i]?.rss ?? 0))
    if (grown.every((bytes) => bytes < LEAK_BOUND)) break
  }
  for (const bytes of grown) expect(bytes).toBeLessThan(LEAK_BOUND)
}
