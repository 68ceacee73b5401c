import {
  cleanUpAfterTest,
  missingNatsServer,
  type Nats,
  type NatsNode,
  startNats,
} from '@sluice/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { drain, ok, storageContract } from '../../test/storage-contract.js'
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
    stream,
    cleanup: async () => {
      await Promise.all([storage.close(), peer.close()])
    },
  }
}

/** The lease bucket of a storage's stream, through a connection of the test's own. */
async function leasesOf(nats: Nats, storage: JetStreamStorage) {
  const { connect } = await import('@nats-io/transport-node')
  const { Kvm } = await import('@nats-io/kv')
  const connection = await connect({ servers: [...nats.urls] })
  cleanUpAfterTest(() => connection.close())
  return new Kvm(connection).open(`${storage.stream}_LEASES`)
}

/** Publishes one message with fstream's headers on `subject`, as a rogue writer would. */
async function publishRaw(nats: Nats, subject: string, fields: { offset: string; writer: string }) {
  const { connect, headers } = await import('@nats-io/transport-node')
  const { jetstream } = await import('@nats-io/jetstream')
  const connection = await connect({ servers: [...nats.urls] })
  try {
    const h = headers()
    h.set('Fstream-Offset', fields.offset)
    h.set('Fstream-Writer', fields.writer)
    await jetstream(connection).publish(subject, Buffer.from('XYZ'), { headers: h })
  } finally {
    await connection.close()
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

describe('JetStream fencing on nats-server 2.9 (best effort: checked by every reader)', () => {
  it('a stale appender whose lease lapsed cannot write again: the new one fenced it out', async (context) => {
    if (missing) return context.skip(missing)
    const { storage, peer, cleanup } = await onStream(single, 1)
    try {
      const stale = ok(await storage.openAppend('fenced', undefined))
      await stale.write([Buffer.from('one ')])
      // Its lease lapses (a paused process, a partition): another server takes the resource.
      const leases = await leasesOf(single as Nats, storage)
      await leases.delete(Buffer.from('fenced').toString('base64url'))
      const fresh = ok(await peer.openAppend('fenced', 4))
      await fresh.write([Buffer.from('two ')])
      await expect(stale.write([Buffer.from('stale!')])).rejects.toMatchObject({
        code: 'FSTREAM_ERR_CONFLICT',
      })
      expect(stale.lost.aborted).toBe(true)
      await fresh.close(true)
      await stale.close(false)
      const followed = ok(await peer.openFollow('fenced', { offset: 0, wait: false }))
      expect((await drain(followed)).toString()).toBe('one two ')
    } finally {
      await cleanup()
    }
  })

  it('an appender whose lease lapsed (TTL) while nobody took the resource takes it again and goes on', async (context) => {
    if (missing) return context.skip(missing)
    const { storage, peer, stream, cleanup } = await onStream(single, 1)
    try {
      const append = ok(await storage.openAppend('lapsed', undefined))
      await append.write([Buffer.from('one ')])
      // What the bucket's TTL does to a lease whose renewals could not land: no entry at all.
      const leases = await leasesOf(single as Nats, storage)
      const key = Buffer.from('lapsed').toString('base64url')
      const { connect } = await import('@nats-io/transport-node')
      const { jetstreamManager } = await import('@nats-io/jetstream')
      const connection = await connect({ servers: [...(single as Nats).urls] })
      cleanUpAfterTest(() => connection.close())
      await (await jetstreamManager(connection)).streams.purge(`KV_${stream}_LEASES`, {
        filter: `$KV.${stream}_LEASES.${key}`,
      })
      // The next renewal finds it gone, the resource's last message its own: it takes it again.
      await expect
        .poll(async () => (await leases.get(key))?.string(), { timeout: 10_000 })
        .toBeDefined()
      expect(append.lost.aborted).toBe(false)
      await append.write([Buffer.from('two')])
      await expect(peer.openAppend('lapsed', undefined)).resolves.toMatchObject({
        code: 'FSTREAM_ERR_CONFLICT',
      })
      await append.close(true)
      const followed = ok(await peer.openFollow('lapsed', { offset: 0, wait: false }))
      expect((await drain(followed)).toString()).toBe('one two')
    } finally {
      await cleanup()
    }
  })

  it('bytes interleaved by two writers at once fail every reader loudly, never mixed', async (context) => {
    if (missing) return context.skip(missing)
    const { storage, cleanup, stream } = await onStream(single, 1)
    try {
      const target = ok(await storage.openAppend('mixed', undefined))
      await target.write([Buffer.from('abc')])
      // What nats-server before 2.11 can let through in a cluster: another writer's message.
      await publishRaw(
        single as Nats,
        `${stream}.r.${Buffer.from('mixed').toString('base64url')}`,
        {
          offset: '3',
          writer: 'intruder',
        },
      )
      await target.close(false)
      const followed = ok(await storage.openFollow('mixed', { offset: 0, wait: false }))
      await expect(drain(followed)).rejects.toThrow(
        /inconsistent: message \d+ comes from another appender/,
      )
    } finally {
      await cleanup()
    }
  })
})

describe('JetStream start', () => {
  it('waits for a cluster that lost its quorum, and is ready once the quorum is back', {
    timeout: 240_000,
  }, async (context) => {
    if (missing) return context.skip(missing)
    const nats = await startNats(3)
    // A stream of an earlier run already there, its lease bucket not yet.
    const earlier = new JetStreamStorage({ servers: nats.urls, stream: 'Q', replicas: 1 })
    await earlier.init()
    await earlier.close()
    await dropLeases(nats, 'Q')
    await expect.poll(() => nats.streamLeader('Q'), { timeout: 30_000 }).toBeDefined()
    const survivor = (await nats.streamLeader('Q')) as NatsNode
    const stopped = nats.nodes.filter((node) => node !== survivor)
    await Promise.all(stopped.map((node) => node.stop()))
    // Longer than the default 60 s: restarting two nodes on a loaded machine may take most of it.
    const storage = new JetStreamStorage({
      servers: [survivor.url],
      stream: 'Q',
      replicas: 1,
      readyTimeoutMs: 150_000,
    })
    cleanUpAfterTest(() => storage.close())
    const ready = storage.init()
    let settled = false
    void ready.then(
      () => (settled = true),
      () => (settled = true),
    )
    await expect.poll(() => connectionsTo(survivor, 'fstream-server'), { timeout: 30_000 }).toBe(1)
    await expect.poll(() => metaLeaderOf(survivor), { timeout: 30_000 }).toBe('')
    expect(settled).toBe(false)
    await Promise.all(stopped.map((node) => node.restart()))
    await ready
    const appending = ok(await storage.openAppend('after-quorum', undefined))
    await appending.write([Buffer.from('back')])
    await appending.close(true)
    const followed = ok(await storage.openFollow('after-quorum', { offset: 0, wait: false }))
    expect((await drain(followed)).toString()).toBe('back')
  })
})

/** Deletes a stream's lease bucket through a connection of the test's own. */
async function dropLeases(nats: Nats, stream: string) {
  const { connect } = await import('@nats-io/transport-node')
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const connection = await connect({ servers: [...nats.urls] })
  try {
    await (await jetstreamManager(connection)).streams.delete(`KV_${stream}_LEASES`)
  } finally {
    await connection.close()
  }
}

/** How many client connections of that name a node has (its `/connz`). */
async function connectionsTo(node: NatsNode, name: string): Promise<number> {
  const connz = (await fetch(`${node.monitor}/connz`).then((res) => res.json())) as {
    connections?: Array<{ name?: string }>
  }
  return (connz.connections ?? []).filter((connection) => connection.name === name).length
}

/** The meta leader a node knows of ('' while the cluster has none), from its `/jsz`. */
async function metaLeaderOf(node: NatsNode): Promise<string> {
  const jsz = (await fetch(`${node.monitor}/jsz`).then((res) => res.json())) as {
    meta_cluster?: { leader?: string }
  }
  return jsz.meta_cluster?.leader ?? ''
}
