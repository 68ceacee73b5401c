import { listen } from '@sluice/test-utils'
import { afterAll, beforeAll, describe, expect, it as vitestIt } from 'vitest'
import {
  BACKENDS,
  backendMissing,
  closeBackends,
  type TestBackend,
  testBackend,
} from '../test/backends.js'
import { closePayload, frame, OPCODE, openRawSession } from '../test/raw-websocket.js'
import { createFstreamServer, PROTOCOL } from './index.js'

const MAX_PAYLOAD = 64 * 1024
const text = (value: string) => Buffer.from(value)

/** Violations of RFC 6455 a client can send, and the close code each must get. */
const corpus: ReadonlyArray<readonly [string, () => Buffer[], number]> = [
  [
    'a message over maxPayload',
    () => [frame({ opcode: OPCODE.binary, payload: Buffer.alloc(MAX_PAYLOAD + 1) })],
    1009,
  ],
  [
    'a length over 2^53',
    () => [frame({ opcode: OPCODE.binary, payload: text('x'), announcedLength: 2n ** 60n })],
    1009,
  ],
  [
    // ws caps the fragments of one message: a policy violation.
    '100,000 fragments',
    () => [
      frame({ opcode: OPCODE.binary, fin: false, payload: text('x') }),
      ...Array.from({ length: 99_999 }, () =>
        frame({ opcode: OPCODE.continuation, fin: false, payload: text('x') }),
      ),
    ],
    1008,
  ],
  [
    'invalid UTF-8 in a text frame',
    () => [frame({ opcode: OPCODE.text, payload: Buffer.from([0xc3, 0x28]) })],
    1007,
  ],
  [
    'an unmasked client frame',
    () => [frame({ opcode: OPCODE.binary, payload: text('x'), mask: false })],
    1002,
  ],
  ['opcode 3', () => [frame({ opcode: 3, payload: text('x') })], 1002],
  [
    'RSV1 without an extension',
    () => [frame({ opcode: OPCODE.binary, rsv1: true, payload: text('x') })],
    1002,
  ],
  ['close code 999', () => [frame({ opcode: OPCODE.close, payload: closePayload(999) })], 1002],
  ['a 200-byte ping', () => [frame({ opcode: OPCODE.ping, payload: Buffer.alloc(200) })], 1002],
  [
    'a fragmented ping',
    () => [frame({ opcode: OPCODE.ping, fin: false, payload: text('x') })],
    1002,
  ],
  [
    'a continuation without a start',
    () => [frame({ opcode: OPCODE.continuation, payload: text('x') })],
    1002,
  ],
]

const v1 = { 'Sec-WebSocket-Protocol': PROTOCOL }

describe.each(BACKENDS)('on %s storage', (backend) => {
  const logged: string[] = []
  let server: Awaited<ReturnType<typeof listen>>
  let storage: TestBackend
  /** An appender that stays for the whole corpus: followers of `/live` stay open. */
  let appender: Awaited<ReturnType<typeof openRawSession>>

  beforeAll(async () => {
    if (backendMissing(backend)) return
    storage = await testBackend(backend)
    await storage.seed('existing', 'stored bytes')
    server = await listen(
      createFstreamServer({
        ...storage.options,
        maxPayload: MAX_PAYLOAD,
        log: (message) => logged.push(message),
      }),
    )
    appender = await openRawSession(server.port, '/live', {
      'Sec-WebSocket-Protocol': PROTOCOL,
      'X-Verb': 'APPEND',
    })
    appender.send(frame({ opcode: OPCODE.binary, payload: Buffer.from('live bytes') }))
  }, 60_000)
  afterAll(async () => {
    appender?.socket.destroy()
    await server?.close()
    await storage?.cleanup()
    await closeBackends()
  })
  const it = (title: string, test: () => Promise<void>) =>
    vitestIt(title, async (context) => {
      const missing = backendMissing(backend)
      if (missing) return context.skip(missing)
      await test()
    })

  /** The server still answers everyone else: a GET of a stored resource. */
  async function stillServing(): Promise<void> {
    const res = await fetch(`${server.url}/existing`)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('stored bytes')
  }

  describe('WebSocket protocol violations close only that session, with the right code', () => {
    for (const [name, frames, code] of corpus) {
      it(`APPEND (fstream.v1): ${name} → ${code}`, async () => {
        const resource = `append-${code}-${name.replace(/\W+/g, '-')}`
        const session = await openRawSession(server.port, `/${resource}`, {
          ...v1,
          'X-Verb': 'APPEND',
        })
        const before = logged.length
        // Data before the violation is stored, whatever follows.
        session.send(frame({ opcode: OPCODE.binary, payload: text('before') }), ...frames())
        const closed = await session.closed
        expect(closed.code).toBe(code)
        session.socket.destroy()
        await expect.poll(() => logged.length).toBe(before + 1)
        expect(logged.at(-1)).toContain(`APPEND /${resource} closed`)
        expect(await storage.stored(resource).then(String)).toBe('before')
        // The resource is free again for the next appender.
        const next = await openRawSession(server.port, `/${resource}`, {
          ...v1,
          'X-Verb': 'APPEND',
        })
        next.send(frame({ opcode: OPCODE.close, payload: closePayload(1000) }))
        expect((await next.closed).code).toBe(1000)
        next.socket.destroy()
        await stillServing()
      })

      it(`FOLLOW (fstream.v1): ${name} → ${code}`, async () => {
        const session = await openRawSession(server.port, '/live', v1)
        const before = logged.length
        session.send(...frames())
        expect((await session.closed).code).toBe(code)
        session.socket.destroy()
        await expect.poll(() => logged.length).toBe(before + 1)
        expect(logged.at(-1)).toContain('FOLLOW /live closed')
        await stillServing()
      })
    }

    it('legacy APPEND (no subprotocol): the same corpus, text frames taken as bytes', async () => {
      for (const [name, frames, code] of corpus) {
        const resource = `legacy-${code}-${name.replace(/\W+/g, '-')}`
        const session = await openRawSession(server.port, `/${resource}`, { 'X-Verb': 'APPEND' })
        // httpfstream's appender sends any bytes as text: they are stored as they came.
        const legacyText = code === 1007
        session.send(
          frame({ opcode: OPCODE.text, payload: text('before\n') }),
          ...frames(),
          ...(legacyText ? [frame({ opcode: OPCODE.close, payload: closePayload(1000) })] : []),
        )
        expect((await session.closed).code, name).toBe(legacyText ? 1000 : code)
        session.socket.destroy()
        const stored = legacyText
          ? Buffer.from([...Buffer.from('before\n'), 0xc3, 0x28])
          : text('before\n')
        await expect.poll(() => storage.stored(resource)).toEqual(stored)
      }
      await stillServing()
    })
  })
})
