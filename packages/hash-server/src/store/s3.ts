import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import type { HeadObjectCommandOutput } from '@aws-sdk/client-s3'
import type { Representation } from '@sluice/internal/http'
import { ByteBudget } from './byte-budget.js'
import { CleanupQueue } from './cleanup-queue.js'
import {
  type BodyHint,
  OBJECT_HEADERS,
  type ObjectStore,
  objectEtag,
  type PendingObject,
  type Unopenable,
} from './index.js'
import { MAX_PART_SIZE, MIN_PART_SIZE } from './part-sizes.js'
import { isNotFound, s3Request, storeError } from './s3-requests.js'
import { type S3Target, S3Upload } from './s3-upload.js'

const MiB = 1024 * 1024

/** Options of {@link S3Store}. Credentials and region default to the AWS SDK's usual sources. */
export interface S3StoreOptions {
  readonly bucket: string
  /** Keys start with it: `PREFIX/<algorithm>/<hex>` (default: none). */
  readonly prefix?: string
  /** Another S3-compatible service: `http://127.0.0.1:8080` (default: AWS, or `AWS_ENDPOINT_URL_S3`). */
  readonly endpoint?: string
  /** Path-style URLs (`endpoint/bucket/key`), as most S3-compatible services want. */
  readonly forcePathStyle?: boolean
  /** Default: `AWS_REGION`, the profile's, else `us-east-1`. */
  readonly region?: string
  /** Default: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, instance roles… */
  readonly credentials?: {
    readonly accessKeyId: string
    readonly secretAccessKey: string
    readonly sessionToken?: string
  }
  /** Smallest part of a multipart upload, bytes (default 8 MiB, at least 5 MiB). */
  readonly partSize?: number
  /** Most parts of one upload (default 10,000, S3's limit; Swift's is 1,000). */
  readonly maxParts?: number
  /** Parts one upload holds at once, the one being filled included (default 4). */
  readonly partsInFlight?: number
  /**
   * Bodies of a known length (at least `partSize`) are streamed to S3 as they arrive, in parts as
   * large as S3 allows, each checked against the ETag S3 answers (default true). Set false where
   * part ETags are not MD5s (AWS buckets encrypted with KMS or a customer key): every part is then
   * buffered and sent with its Content-MD5.
   */
  readonly streamParts?: boolean
  /** Bytes of parts all uploads of this store hold at once (default 128 MiB). */
  readonly bufferSize?: number
  /** Largest object copied with one request; larger ones are copied in parts (default 5 GiB). */
  readonly maxCopySize?: number
  /**
   * Unfinished uploads and temporary objects under the prefix older than this are removed at
   * start (ms, default 24 hours): longer than any upload may take, as other servers sharing the
   * bucket have theirs in progress.
   */
  readonly staleAfter?: number
  /** An S3 request whose connection is silent for this long fails, ms (default 60,000). */
  readonly requestTimeout?: number
}

const SILENT_LOGGER = { trace() {}, debug() {}, info() {}, warn() {}, error() {} }

async function loadSdk(): Promise<typeof import('@aws-sdk/client-s3')> {
  try {
    return await import('@aws-sdk/client-s3')
  } catch (error) {
    throw new Error(
      'the S3 store needs @aws-sdk/client-s3 (npm install it beside @sluice/hash-server): ' +
        (error as Error).message,
      { cause: error },
    )
  }
}

const TEMP = '.tmp/'

/**
 * Objects in S3-compatible object storage: `<prefix>/<algorithm>/<hex>`. Bodies stream into
 * multipart uploads while they are hashed (see {@link S3Upload}); an object appears only once
 * complete and verified. The AWS SDK (`@aws-sdk/client-s3`) is loaded by `init`.
 */
export class S3Store implements ObjectStore {
  readonly #options: S3StoreOptions
  readonly #prefix: string
  readonly #budget: ByteBudget
  readonly #cleanup = new CleanupQueue()
  #target: S3Target | undefined
  #ready: Promise<void> | undefined
  /** One upload to S3 goes at the network's pace (here 140-230 MiB/s), far below MD5's. */
  readonly paced = true

  constructor(options: S3StoreOptions) {
    const partSize = options.partSize ?? 8 * MiB
    if (partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
      throw new RangeError('partSize must be between 5 MiB and 5 GiB')
    }
    this.#options = options
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '')
    this.#prefix = prefix === '' ? '' : `${prefix}/`
    this.#budget = new ByteBudget(options.bufferSize ?? 128 * MiB)
  }

  get location(): string {
    return `s3://${this.#options.bucket}/${this.#prefix}`
  }

  /** The S3 key of `<algorithm>/<hex>`. */
  key(algorithm: string, hex: string): string {
    return `${this.#prefix}${algorithm}/${hex}`
  }

  #s3(): S3Target {
    if (this.#target === undefined) throw new Error('the store is not initialised')
    return this.#target
  }

  /**
   * Loads the SDK, checks that the bucket exists and can be written (a probe object is put and
   * deleted) and removes stale uploads of this prefix. Rejects with the reason otherwise.
   */
  init(): Promise<void> {
    this.#ready ??= this.#init()
    return this.#ready
  }

  async #init(): Promise<void> {
    const sdk = await loadSdk()
    const options = this.#options
    // Another S3-compatible service without a region anywhere: the one S3 names as default.
    const region =
      options.region ??
      process.env['AWS_REGION'] ??
      process.env['AWS_DEFAULT_REGION'] ??
      (options.endpoint === undefined ? undefined : 'us-east-1')
    const client = new sdk.S3Client({
      ...(region === undefined ? {} : { region }),
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      forcePathStyle: options.forcePathStyle ?? false,
      // The default sends aws-chunked bodies with CRC32 trailers, which S3-compatible services
      // such as Swift refuse (501); every part carries Content-MD5 instead.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // A part's body is a stream the SDK cannot send twice: requests are retried here.
      maxAttempts: 1,
      // Failures reach the callers as errors; the SDK would also print a line per aborted upload.
      logger: SILENT_LOGGER,
      requestHandler: {
        connectionTimeout: 5_000,
        // An inactivity timeout: a long upload that keeps moving is never cut.
        socketTimeout: options.requestTimeout ?? 60_000,
        httpAgent: { keepAlive: true, maxSockets: 256 },
      },
    })
    const bucket = options.bucket
    const head = (Key: string): Promise<HeadObjectCommandOutput | undefined> =>
      s3Request('HeadObject', undefined, async () => {
        try {
          return await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key }))
        } catch (error) {
          if (isNotFound(error)) return undefined
          throw error
        }
      })
    const target: S3Target = {
      sdk,
      client,
      bucket,
      budget: this.#budget,
      cleanup: this.#cleanup,
      partSize: options.partSize ?? 8 * MiB,
      maxParts: options.maxParts ?? 10_000,
      partsInFlight: Math.max(2, options.partsInFlight ?? 4),
      streamParts: options.streamParts ?? true,
      maxCopySize: options.maxCopySize ?? 5 * 1024 ** 3,
      key: (algorithm, hex) => this.key(algorithm, hex),
      tempKey: () => `${this.#prefix}${TEMP}${randomUUID()}`,
      head,
      exists: async (key) => (await head(key)) !== undefined,
    }
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: bucket }))
    } catch (error) {
      client.destroy()
      if (isNotFound(error)) throw new Error(`bucket ${bucket} does not exist`, { cause: error })
      throw new Error(storeError('HeadBucket', error).message, { cause: error })
    }
    try {
      const probe = `${this.#prefix}${TEMP}probe-${randomUUID()}`
      await client.send(
        new sdk.PutObjectCommand({ Bucket: bucket, Key: probe, Body: '', ContentLength: 0 }),
      )
      await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: probe }))
      await this.#sweep(target, Date.now() - (options.staleAfter ?? 24 * 3600_000))
    } catch (error) {
      client.destroy()
      throw new Error(storeError('a test write', error).message, { cause: error })
    }
    this.#target = target
  }

  /** Aborts unfinished uploads and deletes temporary objects of this prefix from before `before`. */
  async #sweep({ sdk, client, bucket }: S3Target, before: number): Promise<void> {
    let KeyMarker: string | undefined
    let UploadIdMarker: string | undefined
    do {
      const listed = await client.send(
        new sdk.ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: this.#prefix,
          ...(KeyMarker ? { KeyMarker } : {}),
          ...(UploadIdMarker ? { UploadIdMarker } : {}),
        }),
      )
      for (const upload of listed.Uploads ?? []) {
        if ((upload.Initiated?.getTime() ?? 0) >= before) continue
        await client.send(
          new sdk.AbortMultipartUploadCommand({
            Bucket: bucket,
            Key: upload.Key,
            UploadId: upload.UploadId,
          }),
        )
      }
      KeyMarker = listed.IsTruncated ? listed.NextKeyMarker : undefined
      UploadIdMarker = listed.IsTruncated ? listed.NextUploadIdMarker : undefined
    } while (KeyMarker !== undefined)
    let ContinuationToken: string | undefined
    do {
      const listed = await client.send(
        new sdk.ListObjectsV2Command({
          Bucket: bucket,
          Prefix: `${this.#prefix}${TEMP}`,
          ...(ContinuationToken ? { ContinuationToken } : {}),
        }),
      )
      for (const object of listed.Contents ?? []) {
        if ((object.LastModified?.getTime() ?? 0) >= before) continue
        await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: object.Key }))
      }
      ContinuationToken = listed.IsTruncated ? listed.NextContinuationToken : undefined
    } while (ContinuationToken !== undefined)
  }

  begin(hint?: BodyHint): Promise<PendingObject> {
    return S3Upload.begin(this.#s3(), hint)
  }

  async open(algorithm: string, hex: string): Promise<Representation | Unopenable> {
    const { sdk, client, bucket, head: headOf } = this.#s3()
    const Key = this.key(algorithm, hex)
    const head = await headOf(Key)
    if (head === undefined) return 'missing'
    return {
      size: head.ContentLength ?? 0,
      etag: objectEtag(algorithm, hex),
      headers: OBJECT_HEADERS,
      ...(head.LastModified ? { lastModified: head.LastModified } : {}),
      open: (start, end) =>
        rangeOf(async (abortSignal) => {
          const got = await s3Request('GetObject', abortSignal, () =>
            client.send(
              new sdk.GetObjectCommand({ Bucket: bucket, Key, Range: `bytes=${start}-${end}` }),
              { abortSignal },
            ),
          )
          return got.Body as Readable
        }),
    }
  }

  async close(): Promise<void> {
    this.#cleanup.stop()
    this.#target?.client.destroy()
    this.#target = undefined
    this.#ready = undefined
  }
}

/** A stream of an object's bytes that asks S3 for them when first read; failures are store errors. */
function rangeOf(get: (signal: AbortSignal) => Promise<Readable>): Readable {
  const controller = new AbortController()
  async function* bytes() {
    try {
      yield* await get(controller.signal)
    } catch (error) {
      if (controller.signal.aborted) throw error
      throw storeError('GetObject', error)
    }
  }
  const stream = Readable.from(bytes(), { objectMode: false })
  stream.once('close', () => controller.abort())
  return stream
}
