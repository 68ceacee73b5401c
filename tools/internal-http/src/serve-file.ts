import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { parseByteRange } from './byte-range.js'

export interface ServeFileOptions {
  /** Strong validator; default: derived from size and modification time. */
  readonly etag?: string
  readonly contentType?: string
  /** Extra headers set on every answer (200, 206, 304, 416). */
  readonly headers?: Readonly<Record<string, string>>
}

function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some((tag) => {
    const value = tag.trim()
    return value === '*' || value === etag || value === `W/${etag}`
  })
}

/**
 * Answers a GET or HEAD with a regular file: Content-Length, ETag, Last-Modified, Accept-Ranges,
 * one byte range (206, or 416 when unsatisfiable), If-None-Match (304). Resolves false, having
 * written nothing, when `path` is not a regular file. The file is streamed with pipeline(), so a
 * client that goes away closes the file descriptor.
 */
export async function serveFile(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  options: ServeFileOptions = {},
): Promise<boolean> {
  let size: number
  let modified: Date
  try {
    const info = await stat(path)
    if (!info.isFile()) return false
    size = info.size
    modified = info.mtime
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return false
    throw error
  }
  const etag =
    options.etag ?? `"${size.toString(16)}-${Math.floor(modified.getTime()).toString(16)}"`
  for (const [name, value] of Object.entries(options.headers ?? {})) res.setHeader(name, value)
  res.setHeader('ETag', etag)
  res.setHeader('Last-Modified', modified.toUTCString())
  res.setHeader('Accept-Ranges', 'bytes')
  if (matches(req.headers['if-none-match'], etag)) {
    res.writeHead(304).end()
    return true
  }
  const range = parseByteRange(req.headers.range, size)
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end()
    return true
  }
  res.setHeader('Content-Type', options.contentType ?? 'application/octet-stream')
  const start = range?.start ?? 0
  const end = range?.end ?? size - 1
  res.statusCode = range === undefined ? 200 : 206
  if (range !== undefined) res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`)
  res.setHeader('Content-Length', end - start + 1)
  if (req.method === 'HEAD' || end < start) {
    res.end()
    return true
  }
  await pipeline(createReadStream(path, { start, end }), res)
  return true
}
