import { type IncomingMessage, request } from 'node:http'

/** A GET on a connection of its own. */
export function get(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, resolve)
    req.on('error', reject)
    req.end()
  })
}

/** A chunked PUT the caller writes to; `status` settles with the server's answer. */
export function openPut(url: string, headers: Record<string, string> = {}) {
  const req = request(url, {
    method: 'PUT',
    agent: false,
    headers: { 'transfer-encoding': 'chunked', ...headers },
  })
  req.setNoDelay(true)
  const status = new Promise<number>((resolve, reject) => {
    req.on('error', reject)
    req.on('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
  })
  return { req, status }
}

/**
 * PUTs `payload` in 64 KiB chunks, as fast as the server takes them, or at `bytesPerSecond`
 * (a live encoder's pace).
 */
export async function ingest(
  url: string,
  payload: Buffer,
  options: { bytesPerSecond?: number; headers?: Record<string, string> } = {},
): Promise<number> {
  const { req, status } = openPut(url, options.headers)
  const begin = performance.now()
  for (let offset = 0; offset < payload.length; offset += 64 * 1024) {
    if (options.bytesPerSecond !== undefined) {
      const due = begin + (offset / options.bytesPerSecond) * 1000 - performance.now()
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due))
    }
    if (!req.write(payload.subarray(offset, offset + 64 * 1024))) {
      await new Promise((resolve) => req.once('drain', resolve))
    }
  }
  req.end()
  return status
}

/** Reads a live object and compares every byte with `payload`; resolves with the bytes read. */
export async function readExact(url: string, payload: Buffer): Promise<number> {
  const res = await get(url)
  if (res.statusCode !== 200) throw new Error(`reader got ${res.statusCode}`)
  let position = 0
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (!chunk.equals(payload.subarray(position, position + chunk.length))) {
      throw new Error(`byte mismatch at ${position}`)
    }
    position += chunk.length
  }
  if (position !== payload.length)
    throw new Error(`reader got ${position} of ${payload.length} bytes`)
  return position
}

/**
 * Ingest → reader latency: PUTs `chunks` records of 64 bytes to `putUrl` at `perSecond`, each
 * starting with its send time, while a reader on each of `readUrls` notes when each arrives.
 */
export async function measureLatency(
  putUrl: string,
  readUrls: readonly string[],
  chunks: number,
  perSecond: number,
) {
  const delays: number[] = []
  const reading = readUrls.map(async (url) => {
    const res = await get(url)
    let pending = Buffer.alloc(0)
    for await (const chunk of res as AsyncIterable<Buffer>) {
      const now = process.hrtime.bigint()
      pending = Buffer.concat([pending, chunk])
      while (pending.length >= 64) {
        delays.push(Number(now - pending.readBigUInt64LE(0)) / 1e6)
        pending = pending.subarray(64)
      }
    }
  })
  await new Promise((resolve) => setTimeout(resolve, 300))
  const { req, status } = openPut(putUrl)
  const begin = performance.now()
  for (let sent = 0; sent < chunks; sent++) {
    // Paced on the clock, not on the previous send: `perSecond` on average.
    const due = begin + (sent * 1000) / perSecond - performance.now()
    if (due > 0) await new Promise((resolve) => setTimeout(resolve, due))
    const record = Buffer.alloc(64)
    record.writeBigUInt64LE(process.hrtime.bigint(), 0)
    req.write(record)
  }
  req.end()
  await status
  await Promise.all(reading)
  delays.sort((a, b) => a - b)
  const at = (q: number) =>
    delays[Math.min(delays.length - 1, Math.floor(q * delays.length))] ?? Number.NaN
  return { count: delays.length, p50: at(0.5), p99: at(0.99), max: delays.at(-1) ?? Number.NaN }
}
