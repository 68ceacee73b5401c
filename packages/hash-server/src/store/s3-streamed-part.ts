import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { PassThrough, type Readable } from 'node:stream'
import { StoreFailedError } from '../errors.js'

/** How much of a streamed part may wait in memory for S3 to take it. */
const BODY_HIGH_WATER_MARK = 256 * 1024

/** S3's ETag of a part sent without encryption by KMS or a customer key: the MD5 of its bytes. */
const MD5_ETAG = /^"?([0-9a-f]{32})"?$/

/** A part S3 holds: what CompleteMultipartUpload names. */
export interface SentPart {
  readonly PartNumber: number
  readonly ETag: string
}

/**
 * One part of a known size sent to S3 while its bytes arrive: no byte is held beyond the request
 * body's small buffer. Its Content-MD5 cannot be known before the bytes, so the ETag S3 answers
 * (the MD5 of what it stored) is checked against the MD5 of the bytes sent instead: a part whose
 * bytes differ fails the upload before it is completed, and nothing of it becomes visible.
 */
export class StreamedPart {
  readonly number: number
  #remaining: number
  readonly #md5 = createHash('md5')
  readonly #body = new PassThrough({ highWaterMark: BODY_HIGH_WATER_MARK })
  readonly #etag: Promise<string | undefined>
  /** Settles once S3 answered or the request failed: rejects with its failure. */
  readonly answered: Promise<unknown>

  /** @param send sends the body as UploadPart and resolves with S3's ETag */
  constructor(number: number, size: number, send: (body: Readable) => Promise<string | undefined>) {
    this.number = number
    this.#remaining = size
    // A failure reaches the upload through `#etag`; the body's own error would say less.
    this.#body.on('error', () => {})
    this.#etag = send(this.#body)
    this.answered = this.#etag
  }

  /** Bytes the part still needs. */
  get remaining(): number {
    return this.#remaining
  }

  /** Sends the next bytes (at most `remaining`); resolves once the request can take more. */
  async write(bytes: Buffer): Promise<void> {
    this.#remaining -= bytes.length
    this.#md5.update(bytes)
    if (this.#body.write(bytes)) return
    // S3 answering before the part is whole is a failure: its rejection wins the race.
    await Promise.race([once(this.#body, 'drain'), this.#etag])
  }

  /** Once every byte is written: S3's answer, checked. */
  async end(): Promise<SentPart> {
    this.#body.end()
    const etag = await this.#etag
    const md5 = this.#md5.digest('hex')
    const stored = etag === undefined ? undefined : MD5_ETAG.exec(etag)?.[1]
    if (stored === undefined) {
      throw new StoreFailedError(
        `S3 answered part ${this.number} with ETag ${etag}, not the MD5 of its bytes (buckets encrypted with KMS or a customer key): buffer the parts (streamParts: false, --s3-buffer-parts)`,
      )
    }
    if (stored !== md5) {
      throw new StoreFailedError(
        `S3 stored part ${this.number} with MD5 ${stored}, not the ${md5} of the bytes sent`,
      )
    }
    return { PartNumber: this.number, ETag: etag as string }
  }

  /** Stops the body (the request itself is stopped by the upload's signal). */
  destroy(reason: Error): void {
    this.#body.destroy(reason)
  }
}
