import { createReadStream } from 'node:fs'
import { basename } from 'node:path'
import { hashStream } from '@sluice/hash-server'
import { upload } from '@sluice/multipart-client'

/** One part as the hash-server reported it. */
interface ServerPart {
  name: string
  filename: string | null
  size: number
  digests: Record<string, string>
  /** Where the server stored it (with a store). */
  location?: string
}

export interface DemoResult {
  readonly filename: string
  readonly size: number
  readonly elapsedMs: number
  readonly server: Record<string, string>
  readonly local: Record<string, string>
  readonly match: boolean
  /** The stored copy's URL path, when the server keeps uploads. */
  readonly location?: string
}

const ALGORITHMS = ['md5', 'sha256']

/**
 * The go-http-streaming example: stream `path` as one multipart part to `host` (a hash-server),
 * then hash the file locally and compare with the digests the server computed as it received it.
 */
export async function uploadAndVerify(host: string, path: string): Promise<DemoResult> {
  const started = performance.now()
  const res = await upload(
    new URL(`/?algorithm=${ALGORITHMS.join(',')}`, host),
    [{ name: 'file', path }],
    { headers: { accept: 'application/json' } },
  )
  const text = await res.body.text()
  // 201 from a server that stores what it hashes.
  if (res.status !== 200 && res.status !== 201)
    throw new Error(`the server answered ${res.status}: ${text.trim()}`)
  const elapsedMs = performance.now() - started
  const { parts } = JSON.parse(text) as { parts: ServerPart[] }
  const part = parts[0]
  if (parts.length !== 1 || part === undefined)
    throw new Error(`expected one part, got ${parts.length}`)
  const local = await hashStream(createReadStream(path), ALGORITHMS)
  const match =
    local.size === part.size && ALGORITHMS.every((a) => local.digests[a] === part.digests[a])
  return {
    filename: part.filename ?? basename(path),
    size: part.size,
    elapsedMs,
    server: part.digests,
    local: local.digests,
    match,
    ...(part.location ? { location: part.location } : {}),
  }
}

export function report(result: DemoResult): string {
  const mib = result.size / 1024 / 1024
  const rate = mib / (result.elapsedMs / 1000)
  return [
    `file:     ${result.filename}`,
    `size:     ${result.size} bytes (${mib.toFixed(1)} MiB)`,
    `elapsed:  ${(result.elapsedMs / 1000).toFixed(2)} s (${rate.toFixed(0)} MiB/s)`,
    ...Object.entries(result.server).map(([a, hex]) => `${`${a}:`.padEnd(9)} ${hex}`),
    ...(result.location ? [`stored:   ${result.location}`] : []),
    `local check: ${result.match ? 'digests match' : `MISMATCH (local ${JSON.stringify(result.local)})`}`,
  ].join('\n')
}
