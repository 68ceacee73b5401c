import { missingNatsServer, type Nats, startNats } from '@sluice/test-utils'
import { afterAll, beforeAll } from 'vitest'
import { storageContract } from '../../test/storage-contract.js'
import { JetStreamStorage } from './jetstream.js'

const missing = missingNatsServer()
let single: Nats | undefined
let cluster: Nats | undefined
let streams = 0

beforeAll(async () => {
  if (missing) return
  ;[single, cluster] = await Promise.all([startNats(1), startNats(3)])
}, 120_000)
afterAll(async () => {
  await Promise.all([single?.stop(), cluster?.stop()])
})

/** Two servers' storages on one fresh stream: `storage` through one node, `peer` through another. */
async function onStream(nats: Nats | undefined, replicas: number) {
  if (nats === undefined) throw new Error('no NATS')
  const stream = `T${++streams}`
  const options = { stream, replicas, leaseMs: 3_000 }
  const storage = new JetStreamStorage({ ...options, servers: [nats.urls[0] as string] })
  const peer = new JetStreamStorage({ ...options, servers: [nats.urls.at(-1) as string] })
  await storage.init()
  await peer.init()
  return {
    storage,
    peer,
    cleanup: async () => {
      await Promise.all([storage.close(), peer.close()])
    },
  }
}

storageContract(
  'JetStream, one node (R1)',
  () => onStream(single, 1),
  () => missing,
)
storageContract(
  'JetStream, 3-node cluster (R3)',
  () => onStream(cluster, 3),
  () => missing,
)
