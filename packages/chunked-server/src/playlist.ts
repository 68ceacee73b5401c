/** Content types of HLS playlists (RFC 8216 §4): what makes an object a playlist, with `.m3u8`. */
const PLAYLIST_TYPES = new Set(['application/vnd.apple.mpegurl', 'audio/mpegurl'])

/** Whether the object at `key`, stored with `contentType`, is an HLS playlist. */
export function isPlaylist(key: string, contentType: string | undefined): boolean {
  if (key.toLowerCase().endsWith('.m3u8')) return true
  const type = contentType?.split(';')[0]?.trim().toLowerCase()
  return type !== undefined && PLAYLIST_TYPES.has(type)
}

/** Where a media playlist stands: what a blocking reload compares its `_HLS_msn`/`_HLS_part` with. */
export interface PlaylistPosition {
  /** Media sequence number of its last complete segment (one less than the first when it has none). */
  readonly lastSegment: number
  /** Parts listed after the last complete segment: the parts of segment `lastSegment + 1` so far. */
  readonly partsAfter: number
  /** `EXT-X-TARGETDURATION`, seconds (0 when absent). */
  readonly targetDuration: number
  /** It has `EXT-X-ENDLIST`: no update will come. */
  readonly ended: boolean
}

const intAfter = (line: string, tag: string): number | undefined => {
  if (!line.startsWith(tag)) return undefined
  const value = Number(line.slice(tag.length))
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined
}

/**
 * Reads a media playlist's position: its media sequence, the segments it lists (a URI line ends
 * each, `EXT-X-SKIP` counts the skipped ones), the parts after the last one, its target duration.
 */
export function playlistPosition(text: string): PlaylistPosition {
  let mediaSequence = 0
  let segments = 0
  let partsAfter = 0
  let targetDuration = 0
  let ended = false
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    if (!line.startsWith('#')) {
      segments++
      partsAfter = 0
      continue
    }
    mediaSequence = intAfter(line, '#EXT-X-MEDIA-SEQUENCE:') ?? mediaSequence
    targetDuration = intAfter(line, '#EXT-X-TARGETDURATION:') ?? targetDuration
    if (line.startsWith('#EXT-X-PART:')) partsAfter++
    else if (line === '#EXT-X-ENDLIST') ended = true
    else if (line.startsWith('#EXT-X-SKIP:')) {
      segments += Number(/SKIPPED-SEGMENTS=(\d+)/.exec(line)?.[1] ?? 0)
    }
  }
  return { lastSegment: mediaSequence + segments - 1, partsAfter, targetDuration, ended }
}

/** What a blocking playlist reload asks for (RFC 8216bis §6.2.5.2). */
export interface ReloadRequest {
  readonly msn: number
  readonly part?: number
}

/**
 * The `_HLS_msn` and `_HLS_part` of a request's query: undefined when it has neither (an ordinary
 * GET), or the reason it is a bad request (`_HLS_part` alone, a value that is not a whole number).
 */
export function reloadRequest(url: string | undefined): ReloadRequest | string | undefined {
  const query = new URL(url ?? '/', 'http://origin').searchParams
  const msn = query.get('_HLS_msn')
  const part = query.get('_HLS_part')
  if (msn === null && part === null) return undefined
  if (msn === null) return '_HLS_part needs _HLS_msn'
  const whole = (text: string) => (/^\d{1,15}$/.test(text) ? Number(text) : undefined)
  const m = whole(msn)
  if (m === undefined) return `_HLS_msn must be a whole number, not "${msn}"`
  if (part === null) return { msn: m }
  const p = whole(part)
  if (p === undefined) return `_HLS_part must be a whole number, not "${part}"`
  return { msn: m, part: p }
}

/** Parts a request may ask for past the last one listed (RFC 8216bis's Advance Part Limit). */
const ADVANCE_PART_LIMIT = 3

/**
 * How a playlist version answers a blocking reload: `ready` (it holds segment `msn`, or part
 * `part` of it; or the playlist has ended), `wait` for a later version, or `too-far` (more than two
 * segments, or more than three parts, past what it holds: `400`).
 */
export function reloadVerdict(
  position: PlaylistPosition,
  want: ReloadRequest,
): 'ready' | 'wait' | 'too-far' {
  const { lastSegment, partsAfter } = position
  if (position.ended || want.msn <= lastSegment) return 'ready'
  if (want.msn > lastSegment + 2) return 'too-far'
  if (want.msn === lastSegment + 1 && want.part !== undefined) {
    if (want.part < partsAfter) return 'ready'
    if (want.part > partsAfter - 1 + ADVANCE_PART_LIMIT) return 'too-far'
  }
  return 'wait'
}
