import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseAlgorithms } from './algorithms.js'
import { DigestSink, hexDigests } from './digest-sink.js'
import { InlineEngine } from './hash-threads.js'

/** Size and hex digests of a stream. */
export interface StreamDigests {
  /** Bytes read. */
  readonly size: number
  /** Lower-case hex digest per algorithm, in the order asked for. */
  readonly digests: Readonly<Record<string, string>>
}

export interface HashStreamOptions {
  /** Rejects with `HASH_ERR_BODY_TOO_LARGE` once more than this many bytes have arrived. */
  readonly maxBytes?: number
  /** Aborts reading; the promise rejects with an AbortError and the source is destroyed. */
  readonly signal?: AbortSignal
}

/**
 * Hashes a readable stream with one or more algorithms in a single pass, as the data flows: memory
 * stays flat whatever the stream's length.
 *
 * @param algorithms Node hash names (`md5`, `sha256`, …), as an array or a comma-separated list.
 * @throws {UnsupportedAlgorithmError} (`HASH_ERR_UNSUPPORTED_ALGORITHM`) before reading anything.
 *
 * @example
 * const { digests } = await hashStream(createReadStream('big.iso'), ['md5', 'sha256'])
 */
export async function hashStream(
  source: Readable | AsyncIterable<Uint8Array>,
  algorithms: string | readonly string[] = 'md5',
  options: HashStreamOptions = {},
): Promise<StreamDigests> {
  const names = parseAlgorithms(typeof algorithms === 'string' ? algorithms : algorithms.join(','))
  const sink = new DigestSink({
    engine: new InlineEngine(names),
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
  })
  await pipeline(source, sink, options.signal ? { signal: options.signal } : {})
  return { size: sink.size, digests: hexDigests(names, sink.digests()) }
}
