import { fileURLToPath } from 'node:url'
import {
  checkAbortedRequests,
  cutConnection,
  firstBytes,
  type ServerProcess,
  startServerProcess,
} from '@sluice/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BACKENDS,
  backendMissing,
  closeBackends,
  type TestBackend,
  testBackend,
} from '../test/backends.js'
import { frame, OPCODE, openRawSession } from '../test/raw-websocket.js'
import { PROTOCOL } from './index.js'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))
let server: ServerProcess
let port: number
const rawAbort = (request: string, afterAnswer: boolean) =>
  cutConnection(port, request, { afterAnswer })

/**
 * On a machine loaded past its cores, a NATS request of a session can time out (5 s): the client
 * then gets a 500 naming the storage, an answer as good as any here (what is checked is that every
 * request is answered and leaves nothing behind). Any other failure fails the test.
 */
function storageRefusal(error: Error): undefined {
  if (error.message.startsWith('HTTP/1.1 500')) return undefined
  throw error
}

const kinds: ReadonlyArray<readonly [string, (i: number) => Promise<void>]> = [
  [
    'APPEND cut in the middle of a frame',
    async (i) => {
      const session = await openRawSession(port, `/append-${i % 20}-${i}`, {
        'Sec-WebSocket-Protocol': PROTOCOL,
        'X-Verb': 'APPEND',
      }).catch(storageRefusal)
      if (session === undefined) return
      const half = frame({ opcode: OPCODE.binary, payload: Buffer.alloc(10_000, 2) })
      session.socket.write(half.subarray(0, 5_000))
      session.socket.destroy()
    },
  ],
  [
    'FOLLOW cut while reading',
    async () => {
      const session = await openRawSession(port, '/big', {
        'Sec-WebSocket-Protocol': PROTOCOL,
      }).catch(storageRefusal)
      if (session === undefined) return
      await firstBytes(session.socket).finally(() => session.socket.destroy())
    },
  ],
  [
    'FOLLOW ?wait=1 cut while waiting',
    async (i) => {
      const session = await openRawSession(port, `/never-${i}?wait=1`, {
        'Sec-WebSocket-Protocol': PROTOCOL,
      }).catch(storageRefusal)
      session?.socket.destroy()
    },
  ],
  ['GET cut after the first bytes', () => rawAbort('GET /big HTTP/1.1\r\nHost: x\r\n\r\n', true)],
  [
    'upgrade cut inside its headers',
    () => rawAbort('GET /big HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Up', false),
  ],
]

describe.each(BACKENDS)('aborted requests of each kind, %s storage', (backend) => {
  let storage: TestBackend | undefined
  beforeAll(async () => {
    if (backendMissing(backend)) return
    storage = await testBackend(backend)
    await storage.seed('big', Buffer.alloc(8 * 1024 * 1024, 1))
    server = await startServerProcess(process.execPath, [
      // A leak of even a few hundred bytes per request would exhaust this heap.
      '--max-old-space-size=64',
      BIN,
      ...storage.cliArgs,
      '--port',
      '0',
    ])
    port = Number(new URL(server.url).port)
  }, 60_000)
  afterAll(async () => {
    if (storage === undefined) return
    await server.stop()
    await storage.cleanup()
    await closeBackends()
  })

  it('leave no descriptor behind and memory flat', { timeout: 240_000 }, async (context) => {
    const missing = backendMissing(backend)
    if (missing) return context.skip(missing)
    // On JetStream every session costs round trips to NATS (lease, consumer): 300 of each kind.
    await checkAbortedRequests(
      [server.child.pid ?? 0],
      kinds.map(([, attempt]) => attempt),
      { count: backend === 'files' ? 1_000 : 300 },
    )
    // And it still serves.
    expect((await fetch(`${server.url}/big`, { method: 'HEAD' })).status).toBe(200)
  })
})
