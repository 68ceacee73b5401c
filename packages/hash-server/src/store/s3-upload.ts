import { createHash, type Hash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { HeadObjectCommandOutput, S3Client } from '@aws-sdk/client-s3'
import { StoreFailedError } from '../errors.js'
import type { ByteBudget } from './byte-budget.js'
import type { CleanupQueue } from './cleanup-queue.js'
import type { BodyHint, PendingObject } from './index.js'
import { MAX_PART_SIZE, partSizes, streamedPartSizes } from './part-sizes.js'
import { s3Request } from './s3-requests.js'
import { type SentPart, StreamedPart } from './s3-streamed-part.js'

type Sdk = typeof import('@aws-sdk/client-s3')

/** What an upload needs of its store. */
export interface S3Target {
  readonly sdk: Sdk
  readonly client: S3Client
  readonly bucket: string
  readonly budget: ByteBudget
  /** Where removals go that S3 could not be told about now. */
  readonly cleanup: CleanupQueue
  readonly partSize: number
  readonly maxParts: number
  readonly partsInFlight: number
  /** Bodies of a known length of at least `partSize` are streamed, not buffered. */
  readonly streamParts: boolean
  /** Largest object copied with one CopyObject (S3: 5 GiB); larger ones are copied in parts. */
  readonly maxCopySize: number
  /** The key of the object `<algorithm>/<hex>`. */
  key(algorithm: string, hex: string): string
  /** A new key in the store's temporary area. */
  tempKey(): string
  /** The object's metadata (with retries), or undefined when there is none. */
  head(key: string): Promise<HeadObjectCommandOutput | undefined>
  exists(key: string): Promise<boolean>
}

/** A part being filled or sent: the chunks as they came (never concatenated) and their MD5. */
interface Part {
  readonly number: number
  readonly target: number
  readonly chunks: Buffer[]
  readonly md5: Hash
  size: number
  /** Bytes of the shared budget it holds. */
  readonly taken: number
}

function body(chunks: readonly Buffer[]): Readable {
  return Readable.from(chunks, { objectMode: false })
}

/**
 * One body on its way into S3 as a multipart upload, part by part while it is hashed. A body of a
 * known length is streamed: each part sent as its bytes arrive, held nowhere, checked against the
 * ETag S3 answers ({@link StreamedPart}). Otherwise parts are buffered: each sent whole with its
 * Content-MD5 (S3 refuses a part whose bytes differ), at most `partsInFlight` parts held (the one
 * being filled included) and their bytes taken from the store's budget. Either way a slow S3
 * slows the client down. A body smaller than one part is sent with one PutObject at commit.
 * The object's name is known before the body only when the client declared its digest; else the
 * parts go to a temporary key, completed and copied to the digest's name at commit.
 */
export class S3Upload implements PendingObject {
  readonly #s3: S3Target
  readonly #sizes: (part: number) => number
  /** The final key, when the client declared the digest. */
  readonly #declared: string | undefined
  /** The declared object is already stored: the body is only hashed. */
  readonly #stored: boolean
  /** Where the parts go. */
  readonly #key: string
  #uploadId: Promise<string> | undefined
  #filling: Part | undefined
  /** Sizes of streamed parts, when the body is streamed. */
  readonly #streamedSizes: ((part: number) => number) | undefined
  /** The length the body was declared with. */
  readonly #length: number | undefined
  #streaming: StreamedPart | undefined
  #nextPart = 1
  #size = 0
  readonly #sending = new Set<Promise<void>>()
  readonly #sent: SentPart[] = []
  #failure: Error | undefined
  readonly #abort = new AbortController()
  #state: 'open' | 'committed' | 'discarded' = 'open'
  /** A completed temporary object not yet removed. */
  #temporary: string | undefined

  private constructor(s3: S3Target, hint: BodyHint, declared: string | undefined, stored: boolean) {
    this.#s3 = s3
    this.#sizes = partSizes(s3.partSize, s3.maxParts, hint.size)
    this.#length = hint.size
    this.#streamedSizes =
      s3.streamParts && hint.size !== undefined && hint.size >= s3.partSize
        ? streamedPartSizes(hint.size)
        : undefined
    this.#declared = declared
    this.#stored = stored
    this.#key = declared ?? s3.tempKey()
  }

  static async begin(s3: S3Target, hint: BodyHint = {}): Promise<S3Upload> {
    if (hint.size !== undefined && hint.size > MAX_PART_SIZE * s3.maxParts) {
      throw new StoreFailedError(
        `a body of ${hint.size} bytes does not fit in ${s3.maxParts} parts of at most 5 GiB`,
      )
    }
    const declared = hint.declared && s3.key(hint.declared.algorithm, hint.declared.hex)
    const stored = declared !== undefined && (await s3.exists(declared))
    return new S3Upload(s3, hint, declared, stored)
  }

  #check(): void {
    if (this.#failure) throw this.#failure
    if (this.#state !== 'open') throw new Error(`the upload is ${this.#state}`)
  }

  #fail(error: unknown): void {
    this.#failure ??= error as Error
    this.#abort.abort(this.#failure)
  }

  async write(chunks: readonly Buffer[]): Promise<void> {
    this.#check()
    if (this.#stored) return
    if (this.#streamedSizes) return this.#stream(chunks, this.#streamedSizes)
    for (const chunk of chunks) {
      this.#filling ??= await this.#newPart()
      const part = this.#filling
      part.chunks.push(chunk)
      part.md5.update(chunk)
      part.size += chunk.length
      this.#size += chunk.length
      if (part.size >= part.target) {
        this.#filling = undefined
        await this.#send(part)
      }
    }
  }

  async #stream(chunks: readonly Buffer[], sizes: (part: number) => number): Promise<void> {
    for (const chunk of chunks) {
      let rest = chunk
      while (rest.length > 0) {
        try {
          this.#streaming ??= this.#streamPart(sizes)
          const part = this.#streaming
          const bytes = rest.subarray(0, part.remaining)
          rest = rest.subarray(bytes.length)
          this.#size += bytes.length
          await part.write(bytes)
          if (part.remaining === 0) {
            this.#streaming = undefined
            this.#sent.push(await part.end())
          }
        } catch (error) {
          this.#fail(error)
        }
        this.#check()
      }
    }
  }

  /** Starts sending the next part of a streamed body. */
  #streamPart(sizes: (part: number) => number): StreamedPart {
    const number = this.#nextPart++
    const size = sizes(number)
    if (size === 0) throw new StoreFailedError('the body is longer than its declared length')
    this.#uploadId ??= this.#create()
    const uploadId = this.#uploadId
    const { sdk, client, bucket } = this.#s3
    const signal = this.#abort.signal
    const part = new StreamedPart(number, size, async (Body) => {
      const UploadId = await uploadId
      const answer = await s3Request(
        'UploadPart',
        signal,
        () =>
          client.send(
            new sdk.UploadPartCommand({
              ...{ Bucket: bucket, Key: this.#key, UploadId, PartNumber: number },
              ...{ ContentLength: size, Body },
            }),
            { abortSignal: signal },
          ),
        // Until S3 answers `100 Continue`, none of the body was read: it can be sent again.
        () => !Body.readableDidRead,
      )
      return answer.ETag
    })
    // A failure between two writes is seen by the next one, by commit or by discard.
    const sending: Promise<void> = part.answered
      .then(
        () => {},
        (error: unknown) => this.#fail(error),
      )
      .finally(() => this.#sending.delete(sending))
    this.#sending.add(sending)
    return part
  }

  async #newPart(): Promise<Part> {
    const number = this.#nextPart++
    if (number > this.#s3.maxParts) {
      throw new StoreFailedError(`the body does not fit in ${this.#s3.maxParts} parts`)
    }
    const target = this.#sizes(number)
    const taken = await this.#s3.budget.take(target, this.#abort.signal)
    return { number, target, chunks: [], md5: createHash('md5'), size: 0, taken }
  }

  /** Sends a part in the background; resolves once another part may be filled. */
  async #send(part: Part): Promise<void> {
    this.#uploadId ??= this.#create()
    const uploadId = this.#uploadId
    const sending: Promise<void> = this.#sendPart(uploadId, part)
      .catch((error: unknown) => this.#fail(error))
      .finally(() => {
        this.#s3.budget.give(part.taken)
        this.#sending.delete(sending)
      })
    this.#sending.add(sending)
    while (this.#sending.size >= this.#s3.partsInFlight) await Promise.race(this.#sending)
    this.#check()
  }

  async #create(): Promise<string> {
    const { sdk, client, bucket } = this.#s3
    // Not cut by a discard: an upload S3 made without telling us its id could not be aborted.
    const created = await s3Request('CreateMultipartUpload', undefined, () =>
      client.send(new sdk.CreateMultipartUploadCommand({ Bucket: bucket, Key: this.#key })),
    )
    if (created.UploadId === undefined) throw new StoreFailedError('S3 gave no UploadId')
    return created.UploadId
  }

  async #sendPart(uploadId: Promise<string>, part: Part): Promise<void> {
    const { sdk, client, bucket } = this.#s3
    const signal = this.#abort.signal
    const UploadId = await uploadId
    const ContentMD5 = part.md5.digest('base64')
    const answer = await s3Request('UploadPart', signal, () =>
      client.send(
        new sdk.UploadPartCommand({
          Bucket: bucket,
          Key: this.#key,
          UploadId,
          PartNumber: part.number,
          ContentLength: part.size,
          ContentMD5,
          Body: body(part.chunks),
        }),
        { abortSignal: signal },
      ),
    )
    if (answer.ETag === undefined) throw new StoreFailedError('S3 gave no ETag for a part')
    this.#sent.push({ PartNumber: part.number, ETag: answer.ETag })
    part.chunks.length = 0
  }

  async commit(algorithm: string, hex: string): Promise<string> {
    this.#check()
    const location = `/${algorithm}/${hex}`
    const key = this.#s3.key(algorithm, hex)
    if (this.#declared !== undefined && key !== this.#declared) {
      throw new Error(`committed as ${key}, declared as ${this.#declared}`)
    }
    try {
      if (!this.#stored) await this.#store(key)
      this.#state = 'committed'
      return location
    } catch (error) {
      this.#fail(error)
      throw error
    }
  }

  async #store(key: string): Promise<void> {
    if (this.#streamedSizes && this.#size !== this.#length) {
      throw new StoreFailedError(
        `the body ended ${(this.#length ?? 0) - this.#size} bytes short of its declared length`,
      )
    }
    const last = this.#filling
    this.#filling = undefined
    if (this.#uploadId === undefined) {
      // One part or less: no multipart upload, the object is put under its name at once.
      try {
        if (this.#declared !== undefined || !(await this.#s3.exists(key))) {
          await this.#put(key, last)
        }
      } finally {
        if (last) this.#s3.budget.give(last.taken)
      }
      return
    }
    if (last && last.size > 0) await this.#send(last)
    else if (last) this.#s3.budget.give(last.taken)
    while (this.#sending.size > 0) await Promise.all(this.#sending)
    this.#check()
    const uploadId = await this.#uploadId
    if (this.#declared === undefined && (await this.#s3.exists(key))) {
      // Stored meanwhile by another upload of the same bytes.
      await this.#abortUpload(this.#key, uploadId)
      this.#uploadId = undefined
      return
    }
    await this.#complete(this.#key, uploadId, this.#sent)
    this.#uploadId = undefined
    if (this.#key === key) return
    this.#temporary = this.#key
    await this.#copy(this.#key, key)
    await this.#remove(this.#key)
    this.#temporary = undefined
  }

  async #put(key: string, part: Part | undefined): Promise<void> {
    const { sdk, client, bucket } = this.#s3
    const chunks = part?.chunks ?? []
    const md5 = part?.md5 ?? createHash('md5')
    const ContentMD5 = md5.digest('base64')
    await s3Request('PutObject', undefined, () =>
      client.send(
        new sdk.PutObjectCommand({
          Bucket: bucket,
          Key: key,
          ContentLength: part?.size ?? 0,
          ContentMD5,
          ContentType: 'application/octet-stream',
          Body: body(chunks),
        }),
      ),
    )
  }

  async #complete(key: string, UploadId: string, parts: readonly SentPart[]): Promise<void> {
    const { sdk, client, bucket } = this.#s3
    await s3Request('CompleteMultipartUpload', undefined, () =>
      client.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: [...parts].sort((a, b) => a.PartNumber - b.PartNumber) },
        }),
      ),
    )
  }

  /** A server-side copy: one CopyObject, or UploadPartCopy of ranges past `maxCopySize`. */
  async #copy(from: string, to: string): Promise<void> {
    const { sdk, client, bucket, maxCopySize, maxParts } = this.#s3
    const CopySource = `${bucket}/${from.split('/').map(encodeURIComponent).join('/')}`
    if (this.#size <= maxCopySize) {
      await s3Request('CopyObject', undefined, () =>
        client.send(new sdk.CopyObjectCommand({ Bucket: bucket, Key: to, CopySource })),
      )
      return
    }
    const created = await s3Request('CreateMultipartUpload', undefined, () =>
      client.send(new sdk.CreateMultipartUploadCommand({ Bucket: bucket, Key: to })),
    )
    const UploadId = created.UploadId
    if (UploadId === undefined) throw new StoreFailedError('S3 gave no UploadId')
    try {
      const rangeSize = Math.max(Math.ceil(this.#size / maxParts), Math.min(maxCopySize, 1024 ** 3))
      const parts: SentPart[] = []
      for (let start = 0, PartNumber = 1; start < this.#size; start += rangeSize, PartNumber++) {
        const end = Math.min(this.#size, start + rangeSize) - 1
        const copied = await s3Request('UploadPartCopy', undefined, () =>
          client.send(
            new sdk.UploadPartCopyCommand({
              Bucket: bucket,
              Key: to,
              UploadId,
              PartNumber,
              CopySource,
              CopySourceRange: `bytes=${start}-${end}`,
            }),
          ),
        )
        const ETag = copied.CopyPartResult?.ETag
        if (ETag === undefined) throw new StoreFailedError('S3 gave no ETag for a copied part')
        parts.push({ PartNumber, ETag })
      }
      await this.#complete(to, UploadId, parts)
    } catch (error) {
      await this.#s3.cleanup.remove(() => this.#abortUpload(to, UploadId))
      throw error
    }
  }

  async #remove(key: string): Promise<void> {
    const { sdk, client, bucket } = this.#s3
    await s3Request('DeleteObject', undefined, () =>
      client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: key })),
    )
  }

  async #abortUpload(key: string, UploadId: string): Promise<void> {
    const { sdk, client, bucket } = this.#s3
    await s3Request('AbortMultipartUpload', undefined, () =>
      client.send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })),
    )
  }

  async discard(): Promise<void> {
    if (this.#state !== 'open') return
    this.#state = 'discarded'
    this.#abort.abort(new Error('the upload was discarded'))
    if (this.#filling) this.#s3.budget.give(this.#filling.taken)
    this.#filling = undefined
    this.#streaming?.destroy(this.#abort.signal.reason as Error)
    this.#streaming = undefined
    await Promise.allSettled([...this.#sending])
    const uploadId = await this.#uploadId?.catch(() => undefined)
    const key = this.#key
    const temporary = this.#temporary
    if (uploadId !== undefined)
      await this.#s3.cleanup.remove(() => this.#abortUpload(key, uploadId))
    if (temporary !== undefined) await this.#s3.cleanup.remove(() => this.#remove(temporary))
  }
}
