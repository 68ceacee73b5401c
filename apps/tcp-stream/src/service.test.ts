import { createHash, randomBytes } from 'node:crypto'
import { connect, type Server } from 'node:net'
import { fileURLToPath } from 'node:url'
import {
  checkCommandLineConventions,
  type ListeningServer,
  listen,
  runCli,
  startServerProcess,
} from '@sluice/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { type Ack, FrameParser, frameHeader } from './frames.js'
import { createStreamService } from './service.js'

const serviceBin = fileURLToPath(new URL('../bin/service.js', import.meta.url))
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

let running: ListeningServer[] = []
afterEach(async () => {
  await Promise.all(running.map((server) => server.close()))
  running = []
})

async function start(server: Server) {
  const listening = await listen(server)
  running.push(listening)
  return listening
}

/** Writes `pieces` one by one (each in its own TCP write) and collects acks until the server closes. */
async function exchange(port: number, pieces: Buffer[], acksWanted: number): Promise<Ack[]> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true })
  const acks: Ack[] = []
  let payload: Buffer[] = []
  const parser = new FrameParser({
    start: () => true,
    data: (chunk) => payload.push(Buffer.from(chunk)),
    end: () => {
      acks.push(JSON.parse(Buffer.concat(payload).toString()) as Ack)
      payload = []
      if (acks.length === acksWanted) socket.end()
    },
  })
  socket.on('data', (chunk: Buffer) => parser.push(chunk))
  for (const piece of pieces) {
    await new Promise<void>((resolve, reject) =>
      socket.write(piece, (error) => (error ? reject(error) : resolve())),
    )
    await new Promise((resolve) => setImmediate(resolve))
  }
  await new Promise<void>((resolve, reject) => {
    socket.once('close', () => resolve())
    socket.once('error', reject)
  })
  return acks
}

describe('tcp-stream-service', () => {
  it('acks every frame of a connection with its size and SHA-256, headers split or not', async () => {
    const { port } = await start(createStreamService())
    const big = randomBytes(3 * 1024 * 1024 + 7)
    const small = Buffer.from('hello')
    const header = frameHeader(small.length)
    const acks = await exchange(
      port,
      [
        frameHeader(0),
        header.subarray(0, 3),
        header.subarray(3, 8),
        small.subarray(0, 2),
        Buffer.concat([small.subarray(2), frameHeader(big.length), big.subarray(0, 1000)]),
        big.subarray(1000),
      ],
      3,
    )
    expect(acks).toEqual([
      { size: 0, sha256: sha256(Buffer.alloc(0)) },
      { size: 5, sha256: sha256(small) },
      { size: big.length, sha256: sha256(big) },
    ])
  })

  it('refuses a frame over the limit with an error ack and closes', async () => {
    const { port } = await start(createStreamService({ maxFrameSize: 1024 }))
    const acks = await exchange(port, [frameHeader(1025), Buffer.alloc(100)], 1)
    expect(acks).toEqual([{ error: 'frame of 1025 bytes is over the limit of 1024' }])
  })

  it('never acks a frame whose connection ends early', async () => {
    const { port } = await start(createStreamService())
    const socket = connect({ host: '127.0.0.1', port })
    const received: Buffer[] = []
    socket.on('data', (chunk: Buffer) => received.push(chunk))
    socket.end(Buffer.concat([frameHeader(100), Buffer.alloc(40)]))
    await new Promise((resolve) => socket.once('close', resolve))
    const text = Buffer.concat(received).subarray(8).toString()
    expect(JSON.parse(text)).toEqual({ error: 'connection ended after 40 bytes of a frame' })
  })

  it('answers frames of up to 2^64-1 announced bytes with a refusal, not a crash', async () => {
    const { port } = await start(createStreamService())
    const acks = await exchange(port, [Buffer.alloc(8, 0xff)], 1)
    expect(acks).toEqual([
      { error: 'frame of 18446744073709551615 bytes is over the limit of 68719476736' },
    ])
  })

  it('runs as a CLI that prints its address, and refuses bad usage with exit 2', async () => {
    const service = await startServerProcess(process.execPath, [serviceBin, '--port', '0'])
    try {
      expect(service.url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/)
      const port = Number(new URL(service.url).port)
      expect(await exchange(port, [frameHeader(1), Buffer.from('x')], 1)).toEqual([
        { size: 1, sha256: sha256(Buffer.from('x')) },
      ])
    } finally {
      expect(await service.stop()).toBe(0)
    }
    const bad = await runCli(process.execPath, [serviceBin, '--port', 'http'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--port: "http" is not a TCP port')
    const help = await runCli(process.execPath, [serviceBin, '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout.toString()).toContain('8-byte little-endian length')
  }, 30_000)
})

describe('the command line conventions', () => {
  it('holds for tcp-stream-service and tcp-stream-gateway', { timeout: 120_000 }, async () => {
    await checkCommandLineConventions({
      command: [process.execPath, serviceBin],
      name: 'tcp-stream-service',
      portFlag: '--port',
      sizeFlag: '--max-frame-size',
    })
    await checkCommandLineConventions({
      command: [process.execPath, fileURLToPath(new URL('../bin/gateway.js', import.meta.url))],
      name: 'tcp-stream-gateway',
      args: ['--backends', '127.0.0.1:1'],
      portFlag: '--port',
      sizeFlag: '--max-size',
    })
  })
})
