import type { IncomingMessage } from 'node:http'
import { type Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Dicer } from '@fastify/busboy'
import { requestBody } from '@sluice/internal/http'
import { type DigestMeter, DigestSink, hexDigests } from './digest-sink.js'
import { BodyTooLargeError, ClientAbortedError, MalformedMultipartError } from './errors.js'
import type { DigestEngine } from './hash-threads.js'
import { parseParameterizedHeader } from './header-params.js'
import type { ObjectStore, PendingObject } from './store/index.js'

/** Multipart limits; the defaults are what a form upload server can afford. */
export interface MultipartLimits {
  /** Most parts in one body (default 1000). */
  readonly maxParts: number
  /** Largest header block of one part, in bytes (default 16 KiB). */
  readonly maxPartHeaderSize: number
}

/** One part as the server saw it. */
export interface PartDigests {
  readonly name: string
  readonly filename: string | null
  readonly contentType: string | null
  readonly size: number
  /** Hex digest per algorithm. */
  readonly digests: Record<string, string>
  /** URL path of the stored copy, with a content store. */
  readonly location?: string
}

export interface ParseMultipartOptions {
  /** Makes the engine that hashes one part. */
  readonly engine: (algorithms: readonly string[]) => DigestEngine
  readonly boundary: string
  /** Sees the raw body on its way to the parser (whole-body digests, size limit). */
  readonly meter: DigestMeter
  readonly algorithms: readonly string[]
  readonly limits: MultipartLimits
  readonly store: ObjectStore | undefined
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

/** The boundary of a multipart/form-data Content-Type. */
export function multipartBoundary(contentType: string): string {
  const parsed = parseParameterizedHeader(contentType)
  if (parsed === undefined) {
    throw new MalformedMultipartError('malformed Content-Type parameters')
  }
  const boundary = parsed.params.get('boundary')
  if (boundary === undefined || boundary === '') {
    throw new MalformedMultipartError('multipart Content-Type without a boundary parameter')
  }
  if (boundary.length > 70 || /[^\x20-\x7e]/.test(boundary)) {
    throw new MalformedMultipartError('invalid multipart boundary (RFC 2046: 1 to 70 characters)')
  }
  return boundary
}

function headerSize(header: Record<string, string[]>): number {
  let size = 0
  for (const [name, values] of Object.entries(header)) {
    for (const value of values) size += name.length + value.length + 4
  }
  return size
}

function describePart(header: Record<string, string[]>, limits: MultipartLimits) {
  if (headerSize(header) > limits.maxPartHeaderSize) {
    throw new MalformedMultipartError(
      `part header block larger than ${limits.maxPartHeaderSize} bytes`,
    )
  }
  for (const name of Object.keys(header)) {
    if (!TOKEN.test(name)) {
      throw new MalformedMultipartError(`malformed part header name ${JSON.stringify(name)}`)
    }
  }
  const disposition = header['content-disposition']
  const parsed =
    disposition?.length === 1 ? parseParameterizedHeader(disposition[0] ?? '') : undefined
  const name = parsed?.params.get('name')
  if (parsed?.value !== 'form-data' || name === undefined) {
    throw new MalformedMultipartError(
      'part without a "Content-Disposition: form-data; name=…" header',
    )
  }
  return {
    name,
    // An empty filename is a file input with no file chosen.
    filename: parsed.params.get('filename') || null,
    contentType: header['content-type']?.[0]?.trim() ?? null,
  }
}

/** Most header lines in one part's header block (Dicer drops the ones past it silently). */
const MAX_HEADER_LINES = 100

/** Control characters, which a header line may not hold but for HTAB (RFC 9110 §5.5). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is what it is for.
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/

/**
 * Whether a part's raw header block is well formed: each line a `name: value` pair or the
 * folded continuation of one, with no control character (bare CR or LF among them), and not
 * too many lines.
 */
function wellFormedHeaderBlock(block: string): boolean {
  const lines = block.split('\r\n').filter((line) => line !== '')
  if (lines.length > MAX_HEADER_LINES) return false
  return lines.every((line, index) => {
    if (CONTROL.test(line)) return false
    if (line.startsWith(' ') || line.startsWith('\t')) return index > 0
    return line.indexOf(':') > 0
  })
}

/**
 * Dicer's header parser stops at the first malformed line of a part's header block and emits the
 * lines it read before it, dropping the rest without a word. There is no public hook: the check
 * is put in front of the parser's own parse step, and `onMalformed` is called before the part's
 * 'header' event. Without that private method (another Dicer), nothing is checked, and the
 * multipart fuzz test, which compares us with busboy, fails.
 */
function checkHeaderBlocks(dicer: Dicer, onMalformed: () => void): void {
  const parser = (dicer as unknown as { _hparser?: { buffer: string; _parseHeader(): void } })
    ._hparser
  if (parser === undefined || typeof parser._parseHeader !== 'function') return
  const parse = parser._parseHeader.bind(parser)
  parser._parseHeader = () => {
    if (!wellFormedHeaderBlock(parser.buffer)) onMalformed()
    parse()
  }
}

/**
 * Dicer as a well-behaved Writable for pipeline(). Dicer emits 'finish' itself when the closing
 * boundary's last part has been read (possibly before `end()`) and swallows the stream's own
 * 'finish', so pipeline() would wait forever for a 'close' that never comes. Worse, when the last
 * part's reader is slow, Dicer keeps the callback of the write that held the closing boundary
 * and emits 'finish' without ever calling it: that write is released here, and what comes after
 * the closing boundary (the epilogue) is dropped without reaching Dicer.
 */
class DicerSink extends Writable {
  readonly #dicer: Dicer
  #done = false
  #error: Error | undefined
  #onDone: ((error?: Error | null) => void) | undefined
  #writing: ((error?: Error | null) => void) | undefined

  constructor(dicer: Dicer) {
    super({ highWaterMark: 0 })
    this.#dicer = dicer
    dicer.on('finish', () => this.#settle())
    dicer.on('error', (error: Error) => this.#settle(error))
  }

  #settle(error?: Error): void {
    if (this.#done) return
    this.#done = true
    this.#error = error
    this.#release(error)
    if (error) this.destroy(error)
    this.#onDone?.(error)
  }

  #release(error?: Error | null): void {
    const callback = this.#writing
    this.#writing = undefined
    callback?.(error ?? this.#error)
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    if (this.#done) {
      callback(this.#error)
      return
    }
    this.#writing = callback
    this.#dicer.write(chunk, (error?: Error | null) => this.#release(error))
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#done) {
      callback(this.#error)
      return
    }
    this.#onDone = callback
    this.#dicer.end()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#dicer.destroyed) this.#dicer.destroy(error ?? undefined)
    callback(error)
  }
}

function abandon(stream: Readable): void {
  stream.on('error', () => {})
  stream.resume()
}

/** A parsed part and, with a store, its bytes waiting in the temp area to be committed. */
export interface ParsedPart {
  readonly part: PartDigests
  readonly pending: PendingObject | undefined
}

/** One multipart body being parsed: its parts, and how to end them all on a failure. */
class MultipartDigest {
  readonly #options: ParseMultipartOptions
  readonly #dicer: Dicer
  readonly #parts: Array<Promise<ParsedPart>> = []
  /** Parts still streaming: when the body fails they must fail too, or their sinks wait forever. */
  readonly #streaming = new Set<Readable>()
  /**
   * Parts whose header block has not come (yet): Dicer never emits 'header' for a part whose
   * block is cut by the next boundary or by the end of the body, so they are settled here.
   */
  readonly #headless = new Map<Readable, (error: Error) => void>()
  #malformedHeader = false
  #failure: Error | undefined

  constructor(options: ParseMultipartOptions) {
    this.#options = options
    this.#dicer = new Dicer({
      boundary: options.boundary,
      maxHeaderPairs: MAX_HEADER_LINES,
      // Slightly above the limit so an oversized block is seen (Dicer truncates it silently).
      maxHeaderSize: options.limits.maxPartHeaderSize + 1024,
    } as ConstructorParameters<typeof Dicer>[0])
    checkHeaderBlocks(this.#dicer, () => {
      this.#malformedHeader = true
    })
    this.#dicer.on('preamble', abandon)
    this.#dicer.on('part', (part: Readable) => this.#onPart(part))
  }

  #fail(error: Error): void {
    this.#failure ??= error
    this.#dicer.destroy(this.#failure)
  }

  #settleHeadless(error: Error): void {
    for (const [part, reject] of this.#headless) {
      abandon(part)
      reject(error)
    }
    this.#headless.clear()
  }

  #onPart(part: Readable): void {
    part.on('error', (error) => this.#fail(error))
    this.#streaming.add(part)
    part.once('close', () => this.#streaming.delete(part))
    part.once('end', () => this.#streaming.delete(part))
    const { maxParts } = this.#options.limits
    if (this.#parts.length >= maxParts) {
      abandon(part)
      this.#fail(new MalformedMultipartError(`more than ${maxParts} parts`))
      return
    }
    const digested = new Promise<ParsedPart>((resolve, reject) => {
      this.#headless.set(part, reject)
      part.once('header', (header: Record<string, string[]>) => {
        this.#headless.delete(part)
        let described: ReturnType<typeof describePart>
        try {
          if (this.#malformedHeader) {
            this.#malformedHeader = false
            throw new MalformedMultipartError('malformed line in a part header block')
          }
          described = describePart(header, this.#options.limits)
        } catch (error) {
          abandon(part)
          reject(error)
          this.#fail(error as Error)
          return
        }
        digestPart(part, described, this.#options).then(resolve, (error: Error) => {
          reject(error)
          this.#fail(error)
        })
      })
    })
    digested.catch(() => {})
    this.#parts.push(digested)
  }

  async run(request: IncomingMessage): Promise<ParsedPart[]> {
    try {
      await pipeline(requestBody(request), this.#options.meter, new DicerSink(this.#dicer))
      this.#settleHeadless(
        new MalformedMultipartError('a part ended before its header block was complete'),
      )
      const results = await Promise.all(this.#parts)
      if (results.length === 0) throw new MalformedMultipartError('multipart body without any part')
      return results
    } catch (error) {
      const reason = classify(this.#failure ?? (error as Error), request)
      this.#settleHeadless(reason)
      for (const part of this.#streaming) part.destroy(reason)
      for (const settled of await Promise.allSettled(this.#parts)) {
        if (settled.status === 'fulfilled') await settled.value.pending?.discard()
      }
      throw reason
    }
  }
}

/**
 * Parses a multipart/form-data stream part by part with Dicer and hashes (and optionally writes to
 * the store's temp area) each part as it streams. Rejects with {@link MalformedMultipartError} on
 * any malformed input, having discarded every temp file; on success the caller commits or discards.
 */
export function digestMultipart(
  request: IncomingMessage,
  options: ParseMultipartOptions,
): Promise<ParsedPart[]> {
  return new MultipartDigest(options).run(request)
}

async function digestPart(
  part: Readable,
  described: ReturnType<typeof describePart>,
  { algorithms, store, engine }: ParseMultipartOptions,
): Promise<ParsedPart> {
  const pending = store === undefined ? undefined : await store.begin()
  try {
    const sink = new DigestSink({
      engine: engine(algorithms),
      ...(pending ? { object: pending } : {}),
    })
    await pipeline(part, sink)
    return {
      part: { ...described, size: sink.size, digests: hexDigests(algorithms, sink.digests()) },
      pending,
    }
  } catch (error) {
    await pending?.discard()
    throw error
  }
}

function classify(error: Error, request: IncomingMessage): Error {
  if (error instanceof MalformedMultipartError || error instanceof BodyTooLargeError) return error
  if (error instanceof ClientAbortedError) return error
  if (request.destroyed && !request.complete) return new ClientAbortedError({ cause: error })
  if (/unexpected end of multipart data|terminated early/i.test(error.message)) {
    return new MalformedMultipartError('multipart body ended before its closing boundary', {
      cause: error,
    })
  }
  return error
}
