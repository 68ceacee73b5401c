import { createHash } from 'node:crypto'
import { Agent, request } from 'node:http'
import { Readable } from 'node:stream'
import Busboy from 'busboy'

/**
 * A seeded generator of multipart/form-data bodies, valid and mutated: the same seed gives the
 * same bodies on every machine, so that a failure found by a fuzz run can be replayed.
 */

/** mulberry32: a small, fast PRNG with a 32-bit seed. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface FuzzPart {
  readonly name: string
  readonly filename?: string
  readonly contentType?: string
  readonly content: Buffer
}

/** One request body to send: its Content-Type header, bytes, and what was done to it. */
export interface FuzzBody {
  readonly contentType: string
  readonly body: Buffer
  /** `valid`, or the mutations applied, for a readable failure message. */
  readonly mutation: string
  /** The parts of the valid body it was made from. */
  readonly parts: readonly FuzzPart[]
}

/** The boundary as a Content-Type parameter: quoted when it is not a token (RFC 9110 §5.6.6). */
function boundaryParam(boundary: string): string {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(boundary) ? boundary : `"${boundary}"`
}

const BOUNDARY_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?"

/** The multipart/form-data encoding of `parts` (RFC 7578), as a browser would send it. */
export function encodeMultipart(parts: readonly FuzzPart[], boundary: string): Buffer {
  const chunks: Buffer[] = []
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`
    if (part.filename !== undefined) head += `; filename="${part.filename}"`
    head += '\r\n'
    if (part.contentType !== undefined) head += `Content-Type: ${part.contentType}\r\n`
    chunks.push(Buffer.from(`${head}\r\n`), part.content, Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return Buffer.concat(chunks)
}

/**
 * Makes `count` bodies from `seed`: about one in five valid, the rest valid bodies with one to
 * three mutations each (truncation, deleted or duplicated ranges, flipped bytes, LF instead of
 * CRLF, stray or broken delimiters, a boundary parameter that is a prefix or an extension of the
 * delimiter, header blocks cut or corrupted, preambles and epilogues, empty bodies).
 */
export function* fuzzMultipartBodies(seed: number, count: number): Generator<FuzzBody> {
  const random = seededRandom(seed)
  const int = (max: number) => Math.floor(random() * max)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T
  const bytes = (length: number) => {
    const buffer = Buffer.allocUnsafe(length)
    for (let i = 0; i < length; i++) buffer[i] = int(256)
    return buffer
  }
  for (let n = 0; n < count; n++) {
    const boundary = Array.from({ length: 1 + int(40) }, () => pick([...BOUNDARY_CHARS])).join('')
    // Files carry any bytes; plain fields carry text (what a form sends, and what a parser that
    // hands fields over as strings can be compared on).
    const parts: FuzzPart[] = Array.from({ length: 1 + int(4) }, (_, i) => {
      const file = random() < 0.6
      return {
        name: `field${i}`,
        ...(file ? { filename: `file${i}.bin` } : {}),
        ...(random() < 0.5
          ? { contentType: pick(['application/octet-stream', 'text/plain']) }
          : {}),
        content: file ? bytes(int(4000)) : Buffer.from(`value ${n}-${i} `.repeat(int(50))),
      }
    })
    let body = encodeMultipart(parts, boundary)
    let header = `multipart/form-data; boundary=${boundaryParam(boundary)}`
    const applied: string[] = []
    const mutations = random() < 0.2 ? 0 : 1 + int(3)
    for (let m = 0; m < mutations; m++) {
      const at = int(body.length + 1)
      const kind = int(12)
      switch (kind) {
        case 0:
          body = body.subarray(0, at)
          applied.push(`truncate@${at}`)
          break
        case 1: {
          const length = 1 + int(40)
          body = Buffer.concat([body.subarray(0, at), body.subarray(at + length)])
          applied.push(`delete@${at}+${length}`)
          break
        }
        case 2: {
          const length = 1 + int(80)
          body = Buffer.concat([body.subarray(0, at + length), body.subarray(at)])
          applied.push(`duplicate@${at}+${length}`)
          break
        }
        case 3:
          body = Buffer.from(body)
          for (let i = 0; i < 1 + int(8); i++) {
            const index = int(body.length)
            if (index < body.length) body[index] = int(256)
          }
          applied.push('flip')
          break
        case 4:
          body = Buffer.from(body.toString('latin1').replaceAll('\r\n', '\n'), 'latin1')
          applied.push('lf-only')
          break
        case 5:
          body = Buffer.concat([
            body.subarray(0, at),
            Buffer.from(`\r\n--${boundary}\r\n`),
            body.subarray(at),
          ])
          applied.push(`stray-delimiter@${at}`)
          break
        case 6:
          header = `multipart/form-data; boundary=${boundaryParam(boundary.slice(0, Math.max(1, boundary.length - 1 - int(3))))}`
          applied.push('boundary-prefix')
          break
        case 7:
          header = `multipart/form-data; boundary=${boundaryParam(boundary + pick(['x', '-', '--', 'abc']))}`
          applied.push('boundary-extended')
          break
        case 8: {
          // A header block cut short: the part's head ends before its blank line.
          const text = body.toString('latin1')
          const blank = text.indexOf('\r\n\r\n')
          body = blank === -1 ? body : body.subarray(0, blank + 2)
          applied.push('headers-cut')
          break
        }
        case 9:
          body = Buffer.concat([bytes(int(50)), body, bytes(int(50))])
          applied.push('preamble-epilogue')
          break
        case 10:
          body = Buffer.concat([body.subarray(0, at), bytes(1 + int(30)), body.subarray(at)])
          applied.push(`insert@${at}`)
          break
        default:
          body = pick([
            Buffer.alloc(0),
            Buffer.from(`--${boundary}\r\n`),
            Buffer.from(`--${boundary}--`),
          ])
          applied.push('degenerate')
      }
    }
    yield { contentType: header, body, mutation: applied.join(',') || 'valid', parts }
  }
}

/** One part as a multipart server reports it, and as the oracle reads it. */
export interface ParsedPart {
  readonly name: string
  readonly filename: string | null
  readonly size: number
  readonly sha256: string
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/**
 * The body up to its close delimiter: what follows is the epilogue, which RFC 2046 §5.1.1 says
 * to ignore (busboy keeps looking for delimiters in it, Dicer does not).
 */
function withoutEpilogue(fuzzed: FuzzBody): Buffer {
  const match = /boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(fuzzed.contentType)
  const boundary = match?.[1] ?? match?.[2]
  if (!boundary) return fuzzed.body
  const close = Buffer.from(`\r\n--${boundary}--`)
  const at = fuzzed.body.indexOf(close)
  return at === -1
    ? fuzzed.body
    : Buffer.concat([fuzzed.body.subarray(0, at + close.length), Buffer.from('\r\n')])
}

/** How busboy, an independent parser, reads a body; undefined when it refuses it. */
export function busboyParts(fuzzed: FuzzBody): Promise<ParsedPart[] | undefined> {
  return new Promise((resolve) => {
    let parser: Busboy.Busboy
    try {
      // latin1: field values come back as the exact bytes sent; filenames are kept whole.
      parser = Busboy({
        headers: { 'content-type': fuzzed.contentType },
        defCharset: 'latin1',
        preservePath: true,
      })
    } catch {
      resolve(undefined)
      return
    }
    const parts: Array<Promise<ParsedPart>> = []
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
    Readable.from([withoutEpilogue(fuzzed)]).pipe(parser)
  })
}

/** Sends one body (sized, or chunked) and resolves with status and text, or 'no answer'. */
function postBody(
  url: string,
  agent: Agent,
  fuzzed: FuzzBody,
  chunked: boolean,
  answerWithinMs: number,
): Promise<{ status: number; text: string } | 'no answer'> {
  return new Promise((resolve) => {
    const req = request(
      `${url}/?algorithm=sha256`,
      {
        method: 'POST',
        agent,
        timeout: answerWithinMs,
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

export interface FuzzRunOptions {
  readonly seed: number
  readonly count: number
  /** Requests in flight at once (default 8). */
  readonly concurrency?: number
  /** Every answer must come within this (default 10 000 ms: a hang, not a machine busy with other tests). */
  readonly answerWithinMs?: number
}

export interface FuzzRun {
  /** Answers by HTTP status. */
  readonly statuses: ReadonlyMap<number, number>
  /** What went wrong, one line each, naming the body (seed, index, mutations) to replay it. */
  readonly failures: readonly string[]
  readonly seconds: number
}

/**
 * Sends `count` fuzzed bodies to a multipart server that answers per-part digests in JSON
 * (hash-server's `?algorithm=sha256` with `Accept: application/json`), one in four chunked, and
 * checks every answer: a 200 or a 4xx within `answerWithinMs`, never a 5xx; valid bodies
 * accepted; and whatever is accepted read exactly as busboy reads it.
 */
export async function fuzzMultipartServer(url: string, options: FuzzRunOptions): Promise<FuzzRun> {
  const answerWithinMs = options.answerWithinMs ?? 10_000
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency ?? 8 })
  const bodies = fuzzMultipartBodies(options.seed, options.count)
  const statuses = new Map<number, number>()
  const failures: string[] = []
  const started = performance.now()
  let index = 0
  const worker = async () => {
    for (let next = bodies.next(); !next.done; next = bodies.next()) {
      const fuzzed = next.value
      const at = index++
      const answer = await postBody(url, agent, fuzzed, at % 4 === 0, answerWithinMs)
      const where = `body ${at} (seed ${options.seed}, ${fuzzed.mutation})`
      if (answer === 'no answer') {
        failures.push(`${where}: no answer within ${answerWithinMs} ms`)
        continue
      }
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
      if (answer.status !== 200 && (answer.status < 400 || answer.status > 499)) {
        failures.push(`${where}: ${answer.status} ${answer.text.trim()}`)
      } else if (answer.status !== 200) {
        if (fuzzed.mutation === 'valid') failures.push(`${where}: refused a valid body`)
      } else {
        const ours = (
          JSON.parse(answer.text) as {
            parts: Array<Omit<ParsedPart, 'sha256'> & { digests: Record<string, string> }>
          }
        ).parts.map(({ name, filename, size, digests }) => ({
          name,
          filename,
          size,
          sha256: digests['sha256'],
        }))
        const theirs = await busboyParts(fuzzed)
        if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
          failures.push(
            `${where}: read as ${JSON.stringify(ours)}, busboy ${JSON.stringify(theirs)}`,
          )
        }
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker))
  } finally {
    agent.destroy()
  }
  return { statuses, failures, seconds: (performance.now() - started) / 1000 }
}
