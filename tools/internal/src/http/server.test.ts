import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { listen, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { accessLog, createHttpServer, requestBody, unsupportedTransferCoding } from './index.js'

/** Sends raw bytes, optionally half-closing, and resolves with everything the server sent. */
async function exchange(port: number, request: string, halfClose = false): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  let answer = ''
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString()
  })
  socket.write(request)
  if (halfClose) socket.end()
  await once(socket, 'close')
  return answer
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Reads the body after `delayMs` (as a handler that opens storage first does) and answers its size. */
function bodyCounter(delayMs: number, outcomes: string[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    pause(delayMs)
      .then(async () => {
        let size = 0
        await pipeline(
          requestBody(req),
          new Writable({
            write(chunk: Buffer, _encoding, callback) {
              size += chunk.length
              callback()
            },
          }),
        )
        outcomes.push(`read ${size}`)
        res.end(`${size} bytes\n`)
      })
      .catch((error: Error) => {
        outcomes.push(`failed: ${error.message}`)
        if (!res.headersSent) res.writeHead(400).end()
      })
  }
}

describe('createHttpServer', () => {
  it('answers a client that half-closes after its complete request (ffmpeg PUT)', async () => {
    const outcomes: string[] = []
    const server = await listen(createHttpServer(bodyCounter(100, outcomes)))
    for (const body of ['5\r\nhello\r\n0\r\n\r\n']) {
      const answer = await exchange(
        server.port,
        `PUT /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
        true,
      )
      expect(answer).toMatch(/^HTTP\/1.1 200 OK/)
      expect(answer).toContain('5 bytes')
    }
    const sized = await exchange(
      server.port,
      'POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
      true,
    )
    expect(sized).toContain('3 bytes')
    expect(outcomes).toEqual(['read 5', 'read 3'])
  })

  it('answers a malformed chunked body with 400 and the reason, and fails the body promptly', async () => {
    const outcomes: string[] = []
    const server = await listen(createHttpServer(bodyCounter(100, outcomes)))
    const head = 'PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
    for (const body of [
      '3\r\nhello\r\n0\r\n\r\n', // chunk longer than its size
      '5\r\nhelloXX0\r\n\r\n', // no CRLF after the data
      '5\r\nhello\r\nzz\r\n', // bad size after a good chunk
      '5\nhello\n0\n\n', // LF-only lines
      '0\r\nbroken trailer\r\n\r\n', // trailer without a colon
    ]) {
      const answer = await exchange(server.port, head + body)
      expect(answer, JSON.stringify(body)).toMatch(/^HTTP\/1.1 400 Bad Request/)
      expect(answer).toMatch(/malformed HTTP request: .+ \(HPE_[A-Z_]+\)/)
    }
    await expect.poll(() => outcomes.length).toBe(5)
    for (const outcome of outcomes) expect(outcome).toMatch(/^failed: /)
  })

  it('closes a connection whose headers do not arrive in time with 408', async () => {
    const server = await listen(createHttpServer((_req, res) => res.end(), { headersTimeout: 300 }))
    const answer = await exchange(server.port, 'GET / HTTP/1.1\r\nHost: x\r\n')
    expect(answer).toMatch(/^HTTP\/1.1 408 Request Timeout/)
    expect(answer).toContain('did not arrive within 300 ms')
  })
})

describe('unsupportedTransferCoding', () => {
  it('names every coding but chunked alone', () => {
    const req = (te?: string) =>
      ({ headers: te === undefined ? {} : { 'transfer-encoding': te } }) as IncomingMessage
    expect(unsupportedTransferCoding(req())).toBeUndefined()
    expect(unsupportedTransferCoding(req('chunked'))).toBeUndefined()
    expect(unsupportedTransferCoding(req(' Chunked '))).toBeUndefined()
    expect(unsupportedTransferCoding(req('gzip, chunked'))).toBe('gzip, chunked')
    expect(unsupportedTransferCoding(req('chunked, chunked'))).toBe('chunked, chunked')
  })
})

describe('accessLog', () => {
  it('has the line in the file once the answer is sent, and keeps it when the process exits at close', async () => {
    const dir = await tempDir('access-log-')
    const path = join(dir.path, 'access.log')
    const log = accessLog(path)
    const server = await listen(createHttpServer((_req, res) => res.end('ok'), { observe: log }))
    const answer = await fetch(`${server.url}/a?token=secret`)
    expect(await answer.text()).toBe('ok')
    await server.close()
    log.close()
    // Read at once, synchronously, as a process exiting right after close would leave it.
    const lines = readFileSync(path, 'utf8').trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ method: 'GET', path: '/a', status: 200 })
    expect(lines[0]).not.toContain('secret')
    // A request cut at shutdown ends after close(): its line is appended all the same.
    log.finished({ ...JSON.parse(lines[0] ?? ''), status: 0 })
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(2)
  })

  it('throws at once, naming the path, when the file cannot be opened', async () => {
    const dir = await tempDir('access-log-')
    expect(() => accessLog(dir.path)).toThrow(
      expect.objectContaining({ code: 'EISDIR', message: expect.stringContaining(dir.path) }),
    )
  })
})
