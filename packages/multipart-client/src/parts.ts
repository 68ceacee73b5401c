import { type FileHandle, open, stat } from 'node:fs/promises'
import { basename, extname } from 'node:path'
import type { Readable } from 'node:stream'
import { InvalidArgumentError, SourceError } from './errors.js'

/**
 * What a file part's bytes come from. `{ path }` is a file on disk (reopenable, size known); a
 * string is the content itself (UTF-8); streams and async iterables are read once.
 */
export type FileSource =
  | { readonly path: string }
  | string
  | Uint8Array
  | Blob
  | Readable
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>

/** How a part is described in the body. Defaults: field `file`, filename from the path. */
export interface PartOptions {
  /** Form field name (default `file`, or the client's `fieldName`). */
  readonly name?: string
  /** Filename sent in Content-Disposition (default: the path's basename, else none). */
  readonly filename?: string
  /** Content-Type (default from the filename's extension, else application/octet-stream). */
  readonly contentType?: string
  /** Byte length of a stream source, when known: lets the request carry a Content-Length. */
  readonly size?: number
  /** More part headers (for example Content-Transfer-Encoding for odd servers). */
  readonly headers?: Readonly<Record<string, string>>
}

/** A text field: `{ name, value }`. */
export interface FieldPart {
  readonly name: string
  readonly value: string
}

/** A file part: `{ name, source, filename?, contentType?, size? }` or `{ name, path }`. */
export type FilePart = PartOptions & { readonly name: string } & (
    | { readonly source: FileSource; readonly path?: never }
    | { readonly path: string; readonly source?: never }
  )

export type Part = FieldPart | FilePart

/** A part ready to be encoded: its header bytes, its size if known, and a way to read it. */
export interface PreparedPart {
  readonly name: string
  readonly header: Buffer
  readonly size: number | undefined
  /** Whether `open` may be called again (for a retry). */
  readonly reopenable: boolean
  open(): AsyncIterable<Uint8Array>
}

const TYPES: Readonly<Record<string, string>> = {
  '.txt': 'text/plain',
  '.html': 'text/html',
  '.css': 'text/css',
  '.csv': 'text/csv',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.tar': 'application/x-tar',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.mp4': 'video/mp4',
  '.ts': 'video/mp2t',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mp3': 'audio/mpeg',
  '.wasm': 'application/wasm',
}

/** Content-Type for a filename's extension (application/octet-stream when unknown). */
export function contentTypeFor(filename: string | undefined): string {
  return (filename && TYPES[extname(filename).toLowerCase()]) || 'application/octet-stream'
}

/**
 * Escapes a name or filename the way the WHATWG/HTML multipart/form-data encoder does: LF, CR and
 * `"` become %0A, %0D and %22; everything else (UTF-8 included) is sent as is.
 */
export function escapeName(value: string): string {
  return value.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22')
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function headerBlock(
  boundary: string,
  disposition: string,
  headers: Record<string, string>,
): Buffer {
  let block = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n`
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name) || /[\r\n]/.test(value)) {
      throw new InvalidArgumentError(`invalid part header ${JSON.stringify(name)}`)
    }
    block += `${name}: ${value}\r\n`
  }
  return Buffer.from(`${block}\r\n`)
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  if (bytes.length > 0) yield bytes
}

const READ_SIZE = 512 * 1024
const READ_SLOTS = 4

/**
 * Reads a file in 512 KiB chunks into four reused buffers, one read ahead of the consumer, so that
 * disk reads overlap socket writes and memory stays flat (no garbage per chunk).
 *
 * Reuse is safe because a buffer is refilled only three chunks later: undici pulls the next chunk
 * only when the socket took the previous one (a write larger than the socket's 16 KiB
 * highWaterMark always waits for 'drain', and 'drain' means nothing of ours is still queued).
 */
async function* readFile(path: string, size: number): AsyncIterable<Uint8Array> {
  let file: FileHandle
  try {
    file = await open(path, 'r')
  } catch (error) {
    throw new SourceError(`cannot read ${path}: ${(error as Error).message}`, { cause: error })
  }
  const slotSize = Math.max(1, Math.min(READ_SIZE, size))
  const slots: Buffer[] = []
  let slot = 0
  const read = () => {
    slots[slot] ??= Buffer.allocUnsafeSlow(slotSize)
    return file.read(slots[slot] as Buffer, 0, slotSize, null)
  }
  // A read ahead fails while the consumer holds the last chunk: that failure is seen at the next
  // await, or discarded if the consumer stops here; never an unhandled rejection meanwhile.
  const readAhead = () => {
    const next = read()
    next.catch(() => {})
    return next
  }
  let pending = readAhead()
  let seen = 0
  try {
    for (;;) {
      const { bytesRead, buffer } = await pending
      seen += bytesRead
      // The file changed since it was measured: a Content-Length was promised, stop here.
      if (seen > size || (bytesRead === 0 && seen !== size)) {
        throw new Error(
          `it was ${size} bytes when the upload started and is now ${seen > size ? 'larger' : seen}`,
        )
      }
      if (bytesRead === 0) return
      slot = (slot + 1) % READ_SLOTS
      pending = readAhead()
      yield buffer.subarray(0, bytesRead)
    }
  } catch (error) {
    throw new SourceError(`cannot read ${path}: ${(error as Error).message}`, { cause: error })
  } finally {
    await pending.catch(() => {})
    await file.close()
  }
}

/** Reads a one-shot source, converting its failures to SourceError. */
async function* readStream(
  name: string,
  stream: AsyncIterable<Uint8Array>,
): AsyncIterable<Uint8Array> {
  try {
    for await (const chunk of stream) {
      yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    }
  } catch (error) {
    throw new SourceError(`source of part "${name}" failed: ${(error as Error).message}`, {
      cause: error,
    })
  }
}

/** Reads a source and fails if it does not deliver exactly `size` bytes. */
async function* exactly(
  name: string,
  size: number,
  source: AsyncIterable<Uint8Array>,
): AsyncIterable<Uint8Array> {
  let seen = 0
  for await (const chunk of source) {
    seen += chunk.length
    if (seen > size) break
    yield chunk
  }
  if (seen !== size) {
    throw new SourceError(
      `part "${name}" declared ${size} bytes but its source gave ${seen > size ? 'more' : seen}`,
    )
  }
}

/** How to read a source: its size when known, and whether `open` already enforces that size. */
interface SourceReader {
  readonly size: number | undefined
  readonly open: () => AsyncIterable<Uint8Array>
  readonly reopenable: boolean
  readonly sized: boolean
  readonly filename?: string | undefined
}

/** A Node stream, from node:stream or a copy of it such as the readable-stream package. */
function isNodeStream(source: unknown): source is Readable {
  const candidate = source as Partial<Readable> | null
  return (
    typeof candidate?.on === 'function' &&
    typeof candidate.destroy === 'function' &&
    typeof candidate.pipe === 'function'
  )
}

/**
 * Destroys a Node stream source that the upload did not read to its end (a part after
 * an early 413, after a failure): a file stream would otherwise keep its descriptor open. Other
 * sources hold nothing.
 */
export function releaseSource(source: FileSource | undefined): void {
  if (isNodeStream(source) && !source.readableEnded && !source.destroyed) source.destroy()
}

async function sourceReader(name: string, source: FileSource): Promise<SourceReader> {
  if (typeof source === 'string' || source instanceof Uint8Array) {
    const bytes = typeof source === 'string' ? Buffer.from(source) : source
    return { size: bytes.length, open: () => once(bytes), reopenable: true, sized: true }
  }
  if (source instanceof Blob) {
    return {
      size: source.size,
      open: () => readStream(name, source.stream() as unknown as AsyncIterable<Uint8Array>),
      reopenable: true,
      sized: false,
      filename: typeof File !== 'undefined' && source instanceof File ? source.name : undefined,
    }
  }
  if ('path' in source && typeof source.path === 'string' && !isNodeStream(source)) {
    const path = source.path
    let size: number
    try {
      const info = await stat(path)
      if (!info.isFile()) throw new Error('not a regular file')
      size = info.size
    } catch (error) {
      throw new SourceError(`cannot read ${path}: ${(error as Error).message}`, { cause: error })
    }
    return {
      size,
      open: () => readFile(path, size),
      reopenable: true,
      sized: true,
      filename: basename(path),
    }
  }
  if (source instanceof ReadableStream || isAsyncIterable(source)) {
    // A Node stream may fail (a file that cannot be opened) before its part's turn comes: until
    // then nobody listens, and an unheard 'error' ends the process. Reading it later still
    // fails with that error, as a SourceError naming the part.
    if (isNodeStream(source)) source.on('error', () => {})
    let opened = false
    const open = () => {
      if (opened) throw new SourceError(`the source of part "${name}" was already read`)
      opened = true
      return readStream(name, source as AsyncIterable<Uint8Array>)
    }
    return { size: undefined, open, reopenable: false, sized: false }
  }
  throw new InvalidArgumentError(`part "${name}" has an unsupported source`)
}

/** Validates a part and computes its header block and size; stats a path (so it must exist). */
export async function preparePart(part: Part, boundary: string): Promise<PreparedPart> {
  if (typeof part.name !== 'string') throw new InvalidArgumentError('every part needs a name')
  if ('value' in part) {
    if (typeof part.value !== 'string') {
      throw new InvalidArgumentError(`field "${part.name}" needs a string value`)
    }
    const bytes = Buffer.from(part.value)
    return {
      name: part.name,
      header: headerBlock(boundary, `form-data; name="${escapeName(part.name)}"`, {}),
      size: bytes.length,
      reopenable: true,
      open: () => once(bytes),
    }
  }
  const source: FileSource | undefined = part.path !== undefined ? { path: part.path } : part.source
  if (source === undefined || source === null) {
    throw new InvalidArgumentError(`part "${part.name}" needs a source or a path`)
  }
  const reader = await sourceReader(part.name, source)
  const size = reader.size ?? part.size
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
    throw new InvalidArgumentError(`part "${part.name}" has an invalid size ${size}`)
  }
  const filename = part.filename ?? reader.filename ?? 'blob'
  const disposition = `form-data; name="${escapeName(part.name)}"; filename="${escapeName(filename)}"`
  const header = headerBlock(boundary, disposition, {
    'Content-Type': part.contentType ?? contentTypeFor(filename),
    ...part.headers,
  })
  return {
    name: part.name,
    header,
    size,
    reopenable: reader.reopenable,
    // A promised Content-Length must be kept: a source that gives more or less fails the upload.
    open:
      size === undefined || reader.sized
        ? reader.open
        : () => exactly(part.name, size, reader.open()),
  }
}
