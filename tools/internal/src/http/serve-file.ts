import { constants } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import fresh from 'fresh'
import { openBeneath } from '../fs/beneath.js'
import { type ByteRange, parseByteRange } from './byte-range.js'
import { sendFile } from './send-file.js'

export interface ServeFileOptions {
  /** Strong validator; default: derived from size and modification time. */
  readonly etag?: string
  readonly contentType?: string
  /** Extra headers set on every answer (200, 206, 304, 412, 416). */
  readonly headers?: Readonly<Record<string, string>>
}

/** A complete representation to answer a GET or HEAD with. */
export interface Representation extends ServeFileOptions {
  readonly size: number
  readonly etag: string
  readonly lastModified?: Date
  /** The bytes from `start` to `end` inclusive. */
  open(start: number, end: number): Readable
  /**
   * Called once when the representation is not read through `open` (HEAD, 304, 412, 416, client
   * gone, or sent from `file`).
   */
  release?(): void
  /**
   * The open file that holds exactly these bytes, when it is one: sent with one reused buffer
   * instead of through `open` (see `sendFile`); `release` closes it.
   */
  readonly file?: FileHandle
}

function httpDate(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const time = Date.parse(text)
  return Number.isNaN(time) ? undefined : time
}

/** Whole seconds, as HTTP dates carry them. */
function seconds(date: Date | undefined): number | undefined {
  return date === undefined ? undefined : Math.floor(date.getTime() / 1000) * 1000
}

/** RFC 9110 §13.1.1: strong comparison, `*` matches any current representation. */
function matchesStrongly(header: string, etag: string): boolean {
  return header.split(',').some((tag) => {
    const value = tag.trim()
    return value === '*' || (value === etag && !etag.startsWith('W/'))
  })
}

/** RFC 9110 §13.1.1 and §13.1.4: a failed precondition (`412`). */
function preconditionFailed(req: IncomingMessage, etag: string, modified?: number): boolean {
  const ifMatch = req.headers['if-match']
  if (ifMatch !== undefined) return !matchesStrongly(ifMatch, etag)
  const since = httpDate(req.headers['if-unmodified-since'])
  return since !== undefined && modified !== undefined && modified > since
}

/**
 * RFC 9110 §13.1.5: a Range applies only while the client's copy is current, judged by an
 * `If-Range` ETag (strong comparison) or date (exactly the Last-Modified); otherwise the whole
 * representation is sent, so that a resumed download never splices two versions.
 */
function rangeApplies(req: IncomingMessage, etag: string, modified?: number): boolean {
  const ifRange = req.headers['if-range']
  if (ifRange === undefined) return true
  if (typeof ifRange !== 'string') return false
  const value = ifRange.trim()
  if (value.startsWith('"') || value.startsWith('W/'))
    return value === etag && !etag.startsWith('W/')
  const date = httpDate(value)
  return date !== undefined && modified !== undefined && date === modified
}

/**
 * Answers a GET or HEAD with a complete representation: Content-Length, ETag, Last-Modified,
 * Accept-Ranges; conditional requests in RFC 9110's order — If-Match / If-Unmodified-Since
 * (`412`), If-None-Match / If-Modified-Since (`304`, by `fresh`), one byte range (`206`, `416`
 * when unsatisfiable, by `range-parser`) guarded by If-Range. The body is sent from the
 * representation's open `file` when it has one (see `sendFile`), else streamed from `open` with
 * pipeline(); a client that goes away closes the source.
 */
export async function serveRepresentation(
  req: IncomingMessage,
  res: ServerResponse,
  representation: Representation,
): Promise<void> {
  const { size, etag } = representation
  const modified = seconds(representation.lastModified)
  let released = false
  const release = () => {
    if (released) return
    released = true
    representation.release?.()
  }
  try {
    for (const [name, value] of Object.entries(representation.headers ?? {}))
      res.setHeader(name, value)
    res.setHeader('ETag', etag)
    if (representation.lastModified) {
      res.setHeader('Last-Modified', representation.lastModified.toUTCString())
    }
    res.setHeader('Accept-Ranges', 'bytes')
    if (preconditionFailed(req, etag, modified)) {
      res.writeHead(412).end()
      return
    }
    const validators = {
      etag,
      ...(representation.lastModified
        ? { 'last-modified': representation.lastModified.toUTCString() }
        : {}),
    }
    // Only the validators go to `fresh`: it also treats `Cache-Control: no-cache` as "send it
    // all", which is a cache's business, not an origin's (and fetch() adds it to every
    // conditional request).
    const { 'if-none-match': ifNoneMatch, 'if-modified-since': ifModifiedSince } = req.headers
    const conditions = {
      ...(ifNoneMatch === undefined ? {} : { 'if-none-match': ifNoneMatch }),
      ...(ifModifiedSince === undefined ? {} : { 'if-modified-since': ifModifiedSince }),
    }
    if (
      (ifNoneMatch !== undefined || ifModifiedSince !== undefined) &&
      fresh(conditions, validators)
    ) {
      res.writeHead(304).end()
      return
    }
    let range: ByteRange | 'unsatisfiable' | undefined
    if (req.headers.range !== undefined && rangeApplies(req, etag, modified)) {
      range = parseByteRange(req.headers.range, size)
    }
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end()
      return
    }
    res.setHeader('Content-Type', representation.contentType ?? 'application/octet-stream')
    const start = range?.start ?? 0
    const end = range?.end ?? size - 1
    res.statusCode = range === undefined ? 200 : 206
    if (range !== undefined) res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`)
    res.setHeader('Content-Length', end - start + 1)
    if (req.method === 'HEAD' || end < start) {
      res.end()
      return
    }
    if (representation.file !== undefined) {
      await sendFile(res, representation.file, start, end)
      return
    }
    released = true
    try {
      await pipeline(representation.open(start, end), res)
    } catch (error) {
      // The client went away: nothing is wrong with the representation, nobody to tell.
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ERR_STREAM_PREMATURE_CLOSE' && res.destroyed) return
      throw error
    }
  } finally {
    release()
  }
}

/** The strong validator of a file known only by its size and modification time. */
export function fileEtag(size: number, mtime: Date): string {
  return `"${size.toString(16)}-${Math.floor(mtime.getTime()).toString(16)}"`
}

/** Why a stored file cannot be served. */
export type UnservableReason = 'missing' | 'symlink' | 'not-a-file'

/**
 * The regular file at `root/relative` as a {@link Representation}, opened without following a
 * symbolic link anywhere below `root`: it is served from that open file (no race between checking
 * and reading), which is closed when read or released. Resolves with why there is none otherwise.
 */
export async function fileRepresentation(
  root: string,
  relative: string,
  options: ServeFileOptions = {},
): Promise<Representation | UnservableReason> {
  let file: FileHandle
  try {
    file = await openBeneath(root, relative, constants.O_RDONLY)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') return 'missing'
    if (code === 'ELOOP') return 'symlink'
    throw error
  }
  try {
    const info = await file.stat()
    if (!info.isFile()) {
      await file.close()
      return 'not-a-file'
    }
    const { size, mtime } = info
    return {
      ...options,
      size,
      etag: options.etag ?? fileEtag(size, mtime),
      lastModified: mtime,
      file,
      // 256 KiB reads: a quarter of the syscalls and writes of the 64 KiB default.
      open: (start, end) =>
        file.createReadStream({ start, end, highWaterMark: 256 * 1024, autoClose: true }),
      release: () => {
        file.close().catch(() => {})
      },
    }
  } catch (error) {
    await file.close().catch(() => {})
    throw error
  }
}

/**
 * {@link serveRepresentation} of {@link fileRepresentation}. Resolves with why nothing was
 * written when there is no file to serve.
 */
export async function serveFile(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  relative: string,
  options: ServeFileOptions = {},
): Promise<UnservableReason | undefined> {
  const representation = await fileRepresentation(root, relative, options)
  if (typeof representation === 'string') return representation
  await serveRepresentation(req, res, representation)
  return undefined
}
