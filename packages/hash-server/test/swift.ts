import {
  CreateBucketCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3'
import { type SwiftS3, startSwiftS3 } from '@sluice/test-utils'
import { S3Store, type S3StoreOptions } from '../src/index.js'

/** A Swift with s3api, and an SDK client of the test's own to look at the bucket without us. */
export interface SwiftBucket {
  readonly swift: SwiftS3
  readonly client: S3Client
  /** Options of an S3Store on a fresh bucket of this Swift. */
  storeOptions(bucket: string, extra?: Partial<S3StoreOptions>): S3StoreOptions
  /** Makes a bucket. */
  bucket(name: string): Promise<string>
  /** The bytes of a key, or undefined when there is none. */
  read(bucket: string, key: string): Promise<Buffer | undefined>
  /** Unfinished multipart uploads and temporary objects of a bucket. */
  leftovers(bucket: string): Promise<string[]>
  /** Every key of a bucket. */
  keys(bucket: string, prefix?: string): Promise<string[]>
  stop(): Promise<void>
}

export async function startSwiftBucket(): Promise<SwiftBucket> {
  const swift = await startSwiftS3()
  const client = new S3Client({
    endpoint: swift.endpoint,
    region: swift.region,
    forcePathStyle: true,
    credentials: swift.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  const keys = async (bucket: string, prefix = '') => {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
    return (listed.Contents ?? []).map((object) => object.Key as string)
  }
  return {
    swift,
    client,
    storeOptions: (bucket, extra = {}) => ({
      bucket,
      endpoint: swift.endpoint,
      forcePathStyle: true,
      region: swift.region,
      credentials: swift.credentials,
      // Swift's own limit.
      maxParts: 1000,
      partSize: 5 * 1024 * 1024,
      ...extra,
    }),
    async bucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }))
      return name
    },
    async read(bucket, key) {
      try {
        const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
        return Buffer.from(
          await (
            got.Body as { transformToByteArray(): Promise<Uint8Array> }
          ).transformToByteArray(),
        )
      } catch (error) {
        if ((error as { name?: string }).name === 'NoSuchKey') return undefined
        throw error
      }
    },
    async leftovers(bucket) {
      const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
      return [
        ...(uploads.Uploads ?? []).map((upload) => `upload ${upload.Key}`),
        ...(await keys(bucket)).filter((key) => key.includes('.tmp/')),
      ]
    },
    keys,
    async stop() {
      client.destroy()
      await swift.stop()
    },
  }
}

export { S3Store }
