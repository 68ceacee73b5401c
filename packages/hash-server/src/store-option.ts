import { byteSizeOption, countOption, UsageError } from '@sluice/internal/cli'
import type { S3StoreOptions } from './store/s3.js'

/** The `--s3-*` flags, as the command line's parser gives them. */
export interface S3Flags {
  readonly 's3-endpoint'?: string | undefined
  readonly 's3-path-style'?: boolean | undefined
  readonly 's3-part-size'?: string | undefined
  readonly 's3-max-parts'?: string | undefined
  readonly 's3-parts-in-flight'?: string | undefined
  readonly 's3-buffer'?: string | undefined
  readonly 's3-buffer-parts'?: boolean | undefined
}

const S3_URL = /^s3:\/\/([^/]+)(?:\/(.*))?$/

/**
 * `--store s3://BUCKET/PREFIX` and the `--s3-*` flags as {@link S3StoreOptions}; undefined for a
 * directory (where an `--s3-*` flag is a usage error).
 */
export function s3StoreOption(
  store: string | undefined,
  flags: S3Flags,
): S3StoreOptions | undefined {
  const given = Object.entries(flags).find(
    ([name, value]) => name.startsWith('s3-') && value !== undefined,
  )
  if (store === undefined || !store.startsWith('s3://')) {
    if (given) throw new UsageError(`--${given[0]} needs --store s3://BUCKET[/PREFIX]`)
    return undefined
  }
  const match = S3_URL.exec(store)
  const bucket = match?.[1]
  if (bucket === undefined || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new UsageError(`--store: "${store}" is not s3://BUCKET[/PREFIX] with a valid bucket name`)
  }
  const endpoint = flags['s3-endpoint']
  if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) {
    throw new UsageError(`--s3-endpoint: "${endpoint}" is not an http:// or https:// URL`)
  }
  const partSize = flags['s3-part-size']
  const maxParts = flags['s3-max-parts']
  const inFlight = flags['s3-parts-in-flight']
  const buffer = flags['s3-buffer']
  const options: S3StoreOptions = {
    bucket,
    prefix: match?.[2] ?? '',
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(flags['s3-path-style'] ? { forcePathStyle: true } : {}),
    ...(partSize === undefined ? {} : { partSize: byteSizeOption('--s3-part-size', partSize) }),
    ...(maxParts === undefined ? {} : { maxParts: countOption('--s3-max-parts', maxParts, 1) }),
    ...(inFlight === undefined
      ? {}
      : { partsInFlight: countOption('--s3-parts-in-flight', inFlight, 2) }),
    ...(buffer === undefined ? {} : { bufferSize: byteSizeOption('--s3-buffer', buffer) }),
    ...(flags['s3-buffer-parts'] ? { streamParts: false } : {}),
  }
  const size = options.partSize
  if (size !== undefined && (size < 5 * 1024 ** 2 || size > 5 * 1024 ** 3)) {
    throw new UsageError(`--s3-part-size: "${partSize}" is not between 5M and 5G`)
  }
  return options
}
