// The loads of the fstream benchmarks: an append followed byte by byte, and timed messages.
import { append, follow } from '@sluice/fstream-client'

export function* chunks(payload: Buffer, chunkSize: number): Generator<Buffer> {
  for (let offset = 0; offset < payload.length; offset += chunkSize) {
    yield payload.subarray(offset, offset + chunkSize)
  }
}

/** Follows `url` comparing every byte with `payload`; resolves when the resource is complete. */
export async function followExact(url: string, payload: Buffer): Promise<void> {
  let position = 0
  for await (const chunk of follow(url, { wait: true }) as AsyncIterable<Buffer>) {
    if (!chunk.equals(payload.subarray(position, position + chunk.length))) {
      throw new Error(`byte mismatch at ${position}`)
    }
    position += chunk.length
  }
  if (position !== payload.length) throw new Error(`follower got ${position} of ${payload.length}`)
}

/**
 * Appends `payload` in 256 KiB writes through `appendUrl` while every URL of `followUrls` follows
 * it byte-exact; the seconds until the last byte was acknowledged, and until every follower had
 * everything.
 */
export async function appendFollowed(
  appendUrl: string,
  followUrls: readonly string[],
  payload: Buffer,
  options: { zeroMask?: boolean } = {},
): Promise<{ appendSeconds: number; seconds: number }> {
  const following = followUrls.map((url) => followExact(url, payload))
  await new Promise((resolve) => setTimeout(resolve, 300))
  const started = process.hrtime.bigint()
  await append(appendUrl, chunks(payload, 256 * 1024), { zeroMask: options.zeroMask ?? false })
  const appendSeconds = Number(process.hrtime.bigint() - started) / 1e9
  await Promise.all(following)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { appendSeconds, seconds }
}

/**
 * Appends `messages` 64-byte records at `perSecond` through `appendUrl`, each stamped with its
 * time, and measures when a follower of `followUrl` gets each: p50 and p99 in ms.
 */
export async function appendLatency(
  appendUrl: string,
  followUrl: string,
  messages: number,
  perSecond: number,
): Promise<{ count: number; p50: number; p99: number }> {
  const delays: number[] = []
  const reading = (async () => {
    let pending = Buffer.alloc(0)
    for await (const chunk of follow(followUrl, { wait: true }) as AsyncIterable<Buffer>) {
      const now = process.hrtime.bigint()
      pending = Buffer.concat([pending, chunk])
      while (pending.length >= 64) {
        delays.push(Number(now - pending.readBigUInt64LE(0)) / 1e6)
        pending = pending.subarray(64)
      }
    }
  })()
  async function* timed() {
    for (let i = 0; i < messages; i++) {
      const record = Buffer.alloc(64)
      record.writeBigUInt64LE(process.hrtime.bigint(), 0)
      yield record
      await new Promise((resolve) => setTimeout(resolve, 1000 / perSecond))
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
  await append(appendUrl, timed())
  await reading
  delays.sort((a, b) => a - b)
  const at = (q: number) =>
    delays[Math.min(delays.length - 1, Math.floor(q * delays.length))] ?? Number.NaN
  return { count: delays.length, p50: at(0.5), p99: at(0.99) }
}
