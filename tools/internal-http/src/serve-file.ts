import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseByteRange } from './byte-range.js'

export interface ServeFileOptions {
  /** Strong validator; default: derived from size and modification time. */
  readonly etag?: string
  readonly contentType?: string
  /** Extra headers set on every answer (200, 206, 304, 416). */
  readonly headers?: Readonly<Record<string, string>>
}

/** A complete representation to answer a GET or HEAD with. */
export interface Representation extends ServeFileOptions {
  readonly size: number
  readonly etag: string
  readonly lastModified?: Date
  /** The bytes from `start` to `end` inclusive. */
  open(start: number, end: number): Readable
}

function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some((tag) => {
    const value = tag.trim()
    return value === '*' || value === etag || value === `W/${etag}`
  })
}

/**
 * Answers a GET or HEAD with a complete representation: Content-Length, ETag, Last-Modified,
 * Accept-Ranges, one byte range (206, or 416 when unsatisfiable), If-None-Match (304). The body is
 * streamed with pipeline(), so a client that goes away closes the source.
 */
export async function serveRepresentation(
  req: IncomingMessage,
  res: ServerResponse,
  representation: Representation,
): Promise<void> {
  const { size, etag } = representation
  for (const [name, value] of Object.entries(representation.headers ?? {}))
    res.setHeader(name, value)
  res.setHeader('ETag', etag)
  if (representation.lastModified) {
    res.setHeader('Last-Modified', representation.lastModified.toUTCString())
  }
  res.setHeader('Accept-Ranges', 'bytes')
  if (matches(req.headers['if-none-match'], etag)) {
    res.writeHead(304).end()
    return
  }
  const range = parseByteRange(req.headers.range, size)
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
  await pipeline(representation.open(start, end), res)
}

/**
 * {@link serveRepresentation} for a regular file. Resolves false, having written nothing, when
 * `path` is not a regular file.
 */
export async function serveFile(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  options: ServeFileOptions = {},
): Promise<boolean> {
  let info: Awaited<ReturnType<typeof stat>>
  try {
    info = await stat(path)
    if (!info.isFile()) return false
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return false
    throw error
  }
  const { size, mtime } = info
  await serveRepresentation(req, res, {
    ...options,
    size,
    etag: options.etag ?? `"${size.toString(16)}-${Math.floor(mtime.getTime()).toString(16)}"`,
    lastModified: mtime,
    // 256 KiB reads: a quarter of the syscalls and writes of the 64 KiB default.
    open: (start, end) => createReadStream(path, { start, end, highWaterMark: 256 * 1024 }),
  })
  return true
}
