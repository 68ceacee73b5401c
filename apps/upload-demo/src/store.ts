// Where `pnpm dev` keeps uploads: a directory in its scratch space, or with UPLOAD_DEMO_S3=1 a
// bucket of a one-node Swift (S3 API) started for the demo and stopped with it.
import { join } from 'node:path'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { DiskStore, type ObjectStore, S3Store } from '@sluice/hash-server'
import { missingSwift, startSwiftS3 } from '@sluice/test-utils'

export async function demoStore(scratch: string): Promise<ObjectStore> {
  if (process.env['UPLOAD_DEMO_S3'] !== '1') return new DiskStore(join(scratch, 'store'))
  const missing = missingSwift()
  if (missing) {
    throw new Error(
      `UPLOAD_DEMO_S3=1 needs OpenStack Swift (Debian: apt-get install swift swift-proxy ` +
        `swift-object swift-container swift-account memcached): ${missing}`,
    )
  }
  // The SDK's notice that its 2027 releases need Node 22 is not the demo's business.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true'
  console.log('[upload-demo] starting a one-node Swift with its S3 API (10-30 s)…')
  const swift = await startSwiftS3()
  process.once('exit', () => swift.stopNow())
  const { endpoint, region, credentials } = swift
  const client = new S3Client({ endpoint, region, credentials, forcePathStyle: true })
  await client.send(new CreateBucketCommand({ Bucket: 'uploads' }))
  client.destroy()
  console.log(`[upload-demo] Swift's S3 API on ${endpoint} (access key ${credentials.accessKeyId})`)
  return new S3Store({
    bucket: 'uploads',
    prefix: 'demo',
    endpoint,
    region,
    credentials,
    forcePathStyle: true,
    maxParts: 1000,
  })
}
