import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import {
  cleanUpAfterTest,
  missingNatsServer,
  type Nats,
  type ServerProcess,
  startNats,
  startServerProcess,
} from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { append, follow, openAppend } from './index.js'

const SERVER_BIN = join(
  dirname(createRequire(import.meta.url).resolve('@sluice/fstream-server/package.json')),
  'bin.js',
)
const APPEND_BIN = fileURLToPath(new URL('../bin/fstream-append.js', import.meta.url))
const FOLLOW_BIN = fileURLToPath(new URL('../bin.js', import.meta.url))
const MiB = 1024 * 1024
/** A short lease: a server killed in a test hands its resources over within seconds. */
const LEASE_MS = 3_000

const missing = missingNatsServer()

/**
 * A 3-node cluster of the test's own, stopped when it ends: a node killed by one test may still
 * be catching up when the next one starts (nats-server 2.9.10's `/healthz` fails until every
 * committed entry is applied, which a loaded machine can take over a minute to reach).
 */
const cluster = () => startNats(3)

/** An fstream-server on the NATS cluster (R3), preferring its `first` node. */
function startNode(nats: Nats, first: number): Promise<ServerProcess> {
  const urls = nats.urls
  const ordered = [...urls.slice(first), ...urls.slice(0, first)]
  return startServerProcess(process.execPath, [
    SERVER_BIN,
    ...['--port', '0', '--nats', ordered.join(','), '--nats-replicas', '3'],
    ...['--nats-lease', String(LEASE_MS)],
  ])
}

/** A follower's digest and length, however many chunks it gets. */
function digestOf(stream: Readable): Promise<{ sha256: string; length: number }> {
  const hash = createHash('sha256')
  let length = 0
  stream.on('data', (chunk: Buffer) => {
    hash.update(chunk)
    length += chunk.length
  })
  return new Promise((resolve, reject) => {
    stream.once('end', () => resolve({ sha256: hash.digest('hex'), length }))
    stream.once('error', reject)
  })
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** The resource's stored length through a server (0 when absent). */
async function storedLength(url: string): Promise<number> {
  const head = await fetch(url, { method: 'HEAD' }).catch(() => undefined)
  return head?.status === 200 ? Number(head.headers.get('content-length')) : 0
}

describe('fstream on a 3-node NATS JetStream cluster (R3), two fstream-server nodes', () => {
  it('appends 64 MiB on A, followed live and late on B; a second appender is refused', {
    timeout: 180_000,
  }, async (context) => {
    if (missing) return context.skip(missing)
    const nats = await cluster()
    const [a, b] = await Promise.all([startNode(nats, 0), startNode(nats, 1)])
    const data = randomBytes(64 * MiB)
    const appender = openAppend(`${a.url}/builds/big.log`)
    appender.on('error', () => {})
    const write = (chunk: Buffer) =>
      new Promise<void>((resolve, reject) =>
        appender.write(chunk, (error) => (error ? reject(error) : resolve())),
      )
    await write(data.subarray(0, MiB))
    await expect.poll(() => storedLength(`${b.url}/builds/big.log`)).toBeGreaterThan(0)
    const live = [0, 1, 2].map(() => digestOf(follow(`${b.url}/builds/big.log`)))
    await expect(append(`${b.url}/builds/big.log`, ['intruder'])).rejects.toMatchObject({
      code: 'FSTREAM_ERR_CONFLICT',
    })
    for (let at = MiB; at < data.length; at += 256 * 1024) {
      await write(data.subarray(at, at + 256 * 1024))
    }
    appender.end()
    await once(appender, 'finish')
    expect(appender.size).toBe(data.length)
    for (const result of await Promise.all(live)) {
      expect(result).toEqual({ sha256: sha256(data), length: data.length })
    }
    const [whole, tail] = await Promise.all([
      digestOf(follow(`${b.url}/builds/big.log`)),
      digestOf(follow(`${b.url}/builds/big.log`, { offset: -1_000_000 })),
    ])
    expect(whole.sha256).toBe(sha256(data))
    expect(tail.sha256).toBe(sha256(data.subarray(data.length - 1_000_000)))
    const range = await fetch(`${b.url}/builds/big.log`, {
      headers: { range: 'bytes=1000000-1999999' },
    })
    expect(range.status).toBe(206)
    expect(Buffer.from(await range.arrayBuffer()).equals(data.subarray(1_000_000, 2_000_000))).toBe(
      true,
    )
  })

  it('goes on through a kill -9 of the stream leader: nothing acknowledged lost or duplicated', {
    timeout: 180_000,
  }, async (context) => {
    if (missing) return context.skip(missing)
    const nats = await cluster()
    const [a, b] = await Promise.all([startNode(nats, 0), startNode(nats, 1)])
    const data = randomBytes(32 * MiB)
    const appender = openAppend(`${a.url}/builds/failover.log`, { reconnect: true })
    appender.on('error', () => {})
    const write = (chunk: Buffer) =>
      new Promise<void>((resolve, reject) =>
        appender.write(chunk, (error) => (error ? reject(error) : resolve())),
      )
    await write(data.subarray(0, MiB))
    await expect.poll(() => storedLength(`${b.url}/builds/failover.log`)).toBeGreaterThan(0)
    const followers = [
      digestOf(follow(`${b.url}/builds/failover.log`, { reconnect: true })),
      digestOf(follow(`${a.url}/builds/failover.log`, { reconnect: true })),
    ]
    for (let at = MiB; at < 8 * MiB; at += 256 * 1024)
      await write(data.subarray(at, at + 256 * 1024))
    await expect.poll(() => storedLength(`${b.url}/builds/failover.log`)).toBeGreaterThan(4 * MiB)
    const leader = await nats.streamLeader('FSTREAM')
    expect(leader).toBeDefined()
    await leader?.kill()
    for (let at = 8 * MiB; at < data.length; at += 256 * 1024) {
      await write(data.subarray(at, at + 256 * 1024))
    }
    appender.end()
    await once(appender, 'finish')
    expect(appender.size).toBe(data.length)
    for (const result of await Promise.all(followers)) {
      expect(result).toEqual({ sha256: sha256(data), length: data.length })
    }
    expect(await storedLength(`${b.url}/builds/failover.log`)).toBe(data.length)
  })

  it('survives a kill -9 of fstream node A: fstream-append and fstream-follow go on through B', {
    timeout: 180_000,
  }, async (context) => {
    if (missing) return context.skip(missing)
    const nats = await cluster()
    const [a, b] = await Promise.all([startNode(nats, 0), startNode(nats, 2)])
    const path = '/builds/node-failover.log'
    const data = randomBytes(24 * MiB)
    const appending = spawn(
      process.execPath,
      [APPEND_BIN, '--reconnect', `${a.url}${path}`, `${b.url}${path}`],
      {
        stdio: ['pipe', 'ignore', 'pipe'],
      },
    )
    cleanUpAfterTest(() => appending.kill('SIGKILL'))
    let appendErrors = ''
    appending.stderr.on('data', (chunk: Buffer) => {
      appendErrors += chunk.toString()
    })
    appending.stdin.on('error', () => {})
    const appended = once(appending, 'exit') as Promise<[number | null]>
    const feed = (chunk: Buffer) =>
      new Promise<void>((resolve) => {
        if (appending.stdin.write(chunk)) resolve()
        else appending.stdin.once('drain', resolve)
      })
    await feed(data.subarray(0, MiB))
    await expect.poll(() => storedLength(`${b.url}${path}`)).toBeGreaterThan(0)
    // fstream-follow starts on A (the first URL) and must move to B.
    const following = spawn(
      process.execPath,
      [FOLLOW_BIN, '--reconnect', `${a.url}${path}`, `${b.url}${path}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    cleanUpAfterTest(() => following.kill('SIGKILL'))
    let followErrors = ''
    following.stderr.on('data', (chunk: Buffer) => {
      followErrors += chunk.toString()
    })
    // A timeout says nothing of its own: what both CLIs printed tells where they stopped.
    context.onTestFailed(() => {
      console.error(
        `fstream-append stderr:\n${appendErrors}\nfstream-follow stderr:\n${followErrors}`,
      )
    })
    const followed = digestOf(following.stdout)
    const followerExit = once(following, 'exit') as Promise<[number | null]>
    const onB = digestOf(follow(`${b.url}${path}`, { reconnect: true }))
    for (let at = MiB; at < 8 * MiB; at += 256 * 1024)
      await feed(data.subarray(at, at + 256 * 1024))
    await expect.poll(() => storedLength(`${b.url}${path}`)).toBeGreaterThan(4 * MiB)
    a.child.kill('SIGKILL')
    for (let at = 8 * MiB; at < data.length; at += 256 * 1024) {
      await feed(data.subarray(at, at + 256 * 1024))
    }
    appending.stdin.end()
    const [appendCode] = await appended
    expect(appendCode, appendErrors).toBe(0)
    expect(await storedLength(`${b.url}${path}`)).toBe(data.length)
    const [followCode] = await followerExit
    expect(followCode, followErrors).toBe(0)
    expect(await followed).toEqual({ sha256: sha256(data), length: data.length })
    expect(await onB).toEqual({ sha256: sha256(data), length: data.length })
  })

  it('serves finished resources whole from any node after a restart of everything', {
    timeout: 180_000,
  }, async (context) => {
    if (missing) return context.skip(missing)
    const nats = await cluster()
    const first = await startNode(nats, 0)
    const data = randomBytes(3 * MiB)
    expect(await append(`${first.url}/kept.log`, [data])).toBe(data.length)
    await first.stop()
    await Promise.all(nats.nodes.map((node) => node.stop()))
    // Together: a node is healthy only once a quorum elected the meta leader.
    await Promise.all(nats.nodes.map((node) => node.restart()))
    const [a, b] = await Promise.all([startNode(nats, 1), startNode(nats, 2)])
    for (const server of [a, b]) {
      const res = await fetch(`${server.url}/kept.log`)
      expect(res.status).toBe(200)
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(data))
      const followed = await digestOf(follow(`${server.url}/kept.log`))
      expect(followed.sha256).toBe(sha256(data))
    }
  })
})
