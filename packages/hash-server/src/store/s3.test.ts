import { missingSwift } from '@sluice/test-utils'
import { afterAll, beforeAll, describe } from 'vitest'
import { storeContract } from '../../test/store-contract.js'
import { type SwiftBucket, startSwiftBucket } from '../../test/swift.js'
import { S3Store } from './s3.js'

const missing = missingSwift()
let swift: SwiftBucket | undefined
let buckets = 0

beforeAll(async () => {
  if (!missing) swift = await startSwiftBucket()
}, 120_000)
afterAll(async () => {
  await swift?.stop()
})

describe.skipIf(missing)('S3 (Swift with s3api)', () => {
  storeContract('S3', async () => {
    if (swift === undefined) throw new Error('no Swift')
    const s3 = swift
    const bucket = await s3.bucket(`contract-${++buckets}`)
    const prefix = 'objects'
    return {
      store: new S3Store(s3.storeOptions(bucket, { prefix })),
      read: (algorithm, hex) => s3.read(bucket, `${prefix}/${algorithm}/${hex}`),
      leftovers: () => s3.leftovers(bucket),
      // Three parts of 5 MiB and a bit.
      large: 11 * 1024 * 1024,
      cleanup: async () => {},
    }
  })
})
