import { contentType } from 'mime-types'

/**
 * Streaming media extensions where the registry's answer is not what players and packagers use
 * (`.m4s` is `video/iso.segment` there; CMAF tracks have none; `.key` is an HLS AES key there, not
 * a Keynote file).
 */
const MEDIA: Readonly<Record<string, string>> = {
  m4s: 'video/mp4',
  m4v: 'video/mp4',
  cmfv: 'video/mp4',
  cmfa: 'audio/mp4',
  cmft: 'application/mp4',
  key: 'application/octet-stream',
}

/**
 * The Content-Type of an object whose upload said none (ffmpeg's HLS and DASH muxers send none),
 * from its key's extension: `mime-types` (the jshttp table), with the streaming overrides above.
 * Undefined when the extension is unknown (the object is then `application/octet-stream`).
 */
export function contentTypeOf(key: string): string | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1)
  const dot = name.lastIndexOf('.')
  if (dot <= 0) return undefined
  const extension = name.slice(dot + 1).toLowerCase()
  return MEDIA[extension] ?? (contentType(extension) || undefined)
}
