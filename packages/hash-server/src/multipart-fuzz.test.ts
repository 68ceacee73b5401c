import { createHash } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { Readable } from 'node:stream'
import { type FuzzBody, fuzzMultipartBodies, listen, repeat } from '@sluice/test-utils'
import Busboy from 'busboy'
import { describe, expect, it } from 'vitest'
import { createHashServer } from './index.js'

/** Replay a failure with the same seed: every body is the same on every machine. */
const SEED = 20_261_123
const COUNT = 10_000
const ANSWER_WITHIN_MS = 2_000

interface Part {
  readonly name: string
  readonly filename: string | null
  readonly size: number
  readonly sha256: string
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** How busboy, an independent parser, reads a body; undefined when it refuses it. */
function busboyParts(fuzzed: FuzzBody): Promise<Part[] | undefined> {
  return new Promise((resolve) => {
    let parser: Busboy.Busboy
    try {
      // latin1: field values come back as the exact bytes sent.
      parser = Busboy({ headers: { 'content-type': fuzzed.contentType }, defCharset: 'latin1' })
    } catch {
      resolve(undefined)
      return
    }
    const parts: Array<Promise<Part>> = []
    parser.on('field', (name, value) => {
      const bytes = Buffer.from(value, 'latin1')
      parts.push(
        Promise.resolve({ name, filename: null, size: bytes.length, sha256: sha256(bytes) }),
      )
    })
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = []
      parts.push(
        new Promise((done) => {
          stream.on('data', (chunk: Buffer) => chunks.push(chunk))
          stream.on('error', () => {})
          stream.on('end', () => {
            const bytes = Buffer.concat(chunks)
            done({
              name,
              filename: info.filename ?? null,
              size: bytes.length,
              sha256: sha256(bytes),
            })
          })
        }),
      )
    })
    parser.on('error', () => resolve(undefined))
    parser.on('close', () => {
      Promise.all(parts).then(resolve, () => resolve(undefined))
    })
    Readable.from([fuzzed.body]).pipe(parser)
  })
}

/** Sends one body (sized, or chunked one time in four) and resolves with status and text. */
function send(
  url: string,
  agent: Agent,
  fuzzed: FuzzBody,
  chunked: boolean,
): Promise<{ status: number; text: string } | 'no answer'> {
  return new Promise((resolve) => {
    const req = request(
      `${url}/?algorithm=sha256`,
      {
        method: 'POST',
        agent,
        timeout: ANSWER_WITHIN_MS,
        headers: {
          'content-type': fuzzed.contentType,
          accept: 'application/json',
          ...(chunked ? {} : { 'content-length': fuzzed.body.length }),
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          text += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
        res.on('error', () => resolve('no answer'))
      },
    )
    req.on('timeout', () => {
      req.destroy()
      resolve('no answer')
    })
    req.on('error', () => resolve('no answer'))
    req.end(fuzzed.body)
  })
}

describe('multipart fuzzing', () => {
  it(`answers ${COUNT} fuzzed bodies with 200 or 4xx, each within 2 s, as busboy reads them`, {
    timeout: 60_000,
  }, async () => {
    // Bodies of unknown length go to a hashing thread: both paths are fuzzed.
    const server = await listen(createHashServer({ hashThreads: 1 }))
    const agent = new Agent({ keepAlive: true, maxSockets: 8 })
    const bodies = [...fuzzMultipartBodies(SEED, COUNT)]
    const failures: string[] = []
    const statuses = new Map<number, number>()
    const fds = () => readdirSync('/proc/self/fd').length
    const fdsBefore = fds()
    try {
      await repeat(bodies.length, 8, async (index) => {
        const fuzzed = bodies[index] as FuzzBody
        const answer = await send(server.url, agent, fuzzed, index % 4 === 0)
        const where = `body ${index} (seed ${SEED}, ${fuzzed.mutation})`
        if (answer === 'no answer') {
          failures.push(`${where}: no answer within ${ANSWER_WITHIN_MS} ms`)
          return
        }
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
        if (answer.status !== 200 && (answer.status < 400 || answer.status > 499)) {
          failures.push(`${where}: ${answer.status} ${answer.text}`)
          return
        }
        if (answer.status !== 200) {
          if (fuzzed.mutation === 'valid') failures.push(`${where}: refused a valid body`)
          return
        }
        // Whatever we accept, an independent parser reads the same way.
        const ours = (
          JSON.parse(answer.text) as { parts: Array<Part & { digests: Record<string, string> }> }
        ).parts.map((part) => ({
          name: part.name,
          filename: part.filename,
          size: part.size,
          sha256: part.digests['sha256'],
        }))
        const theirs = await busboyParts(fuzzed)
        if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
          failures.push(
            `${where}: we read ${JSON.stringify(ours)}, busboy ${JSON.stringify(theirs)}`,
          )
        }
      })
    } finally {
      agent.destroy()
      await server.close()
    }
    expect(failures.slice(0, 10)).toEqual([])
    // Both outcomes occurred: the corpus is neither all valid nor all broken.
    expect(statuses.get(200)).toBeGreaterThan(COUNT / 10)
    expect(statuses.get(400)).toBeGreaterThan(COUNT / 10)
    await expect.poll(fds, { timeout: 5_000 }).toBeLessThanOrEqual(fdsBefore + 5)
  })
})
