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

/** The delivery directives of a playlist GET (RFC 8216bis §6.2.5). */
export interface PlaylistDirectives {
  /** `_HLS_msn` (and `_HLS_part`): hold the GET until the playlist has it. */
  readonly reload?: ReloadRequest
  /** `_HLS_skip=YES` or `v2`: answer with a delta update where the playlist allows one. */
  readonly skip: boolean
}

/**
 * The `_HLS_msn`, `_HLS_part` and `_HLS_skip` of a request's query: undefined when it has none (an
 * ordinary GET), or the reason they make a bad request (`_HLS_part` alone, a value that is not a
 * whole number, an `_HLS_skip` other than `YES` or `v2`).
 */
export function playlistDirectives(
  url: string | undefined,
): PlaylistDirectives | string | undefined {
  const query = new URL(url ?? '/', 'http://origin').searchParams
  const msn = query.get('_HLS_msn')
  const part = query.get('_HLS_part')
  const skip = query.get('_HLS_skip')
  if (msn === null && part === null && skip === null) return undefined
  if (skip !== null && skip !== 'YES' && skip !== 'v2') {
    return `_HLS_skip must be YES or v2, not "${skip}"`
  }
  const directives = { skip: skip !== null }
  if (msn === null && part === null) return directives
  if (msn === null) return '_HLS_part needs _HLS_msn'
  const whole = (text: string) => (/^\d{1,15}$/.test(text) ? Number(text) : undefined)
  const m = whole(msn)
  if (m === undefined) return `_HLS_msn must be a whole number, not "${msn}"`
  if (part === null) return { ...directives, reload: { msn: m } }
  const p = whole(part)
  if (p === undefined) return `_HLS_part must be a whole number, not "${part}"`
  return { ...directives, reload: { msn: m, part: p } }
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

/** Tags that apply to every later segment until replaced: a delta update restates the last ones. */
const CARRIED = ['#EXT-X-MAP:', '#EXT-X-KEY:']
/** Tags of the whole playlist: kept, even where a packager writes them among the segments. */
const PLAYLIST_TAGS = [
  '#EXT-X-VERSION:',
  '#EXT-X-TARGETDURATION:',
  '#EXT-X-MEDIA-SEQUENCE:',
  '#EXT-X-DISCONTINUITY-SEQUENCE:',
  '#EXT-X-PLAYLIST-TYPE:',
  '#EXT-X-SERVER-CONTROL:',
  '#EXT-X-PART-INF:',
  '#EXT-X-START:',
  '#EXT-X-DEFINE:',
  '#EXT-X-INDEPENDENT-SEGMENTS',
  '#EXT-X-I-FRAMES-ONLY',
]
/** The lowest `EXT-X-VERSION` of a playlist with `EXT-X-SKIP`. */
const SKIP_VERSION = 9

/**
 * A Playlist Delta Update (RFC 8216bis §6.2.5.1) of a media playlist: the segments that end at
 * least `CAN-SKIP-UNTIL` seconds before the end of the playlist, with their tags, replaced by one
 * `EXT-X-SKIP:SKIPPED-SEGMENTS=N`. Conservative where the text allows a choice: the last
 * `EXT-X-MAP` and `EXT-X-KEY` of the skipped segments and every `EXT-X-DATERANGE` are kept after
 * the skip (so that the rest still decodes and no date range is lost), skipping stops at the first
 * `EXT-X-DISCONTINUITY` (so that discontinuity numbers stay right for any client), and
 * `EXT-X-VERSION` becomes at least 9. Undefined when there is nothing to skip or the playlist
 * does not offer delta updates (no `CAN-SKIP-UNTIL`, or it skips already).
 */
export function deltaUpdate(text: string): string | undefined {
  const eol = text.includes('\r\n') ? '\r\n' : '\n'
  const lines = text.split(/\r?\n/)
  const control = lines.find((line) => line.startsWith('#EXT-X-SERVER-CONTROL:'))
  const skipUntil = Number(/(?:[:,])CAN-SKIP-UNTIL=([\d.]+)/.exec(control ?? '')?.[1])
  if (!(skipUntil > 0) || lines.some((line) => line.startsWith('#EXT-X-SKIP:'))) return undefined
  // Each segment: the line of its URI, how long it is, whether it starts a discontinuity.
  const segments: { end: number; duration: number; discontinuity: boolean }[] = []
  let firstSegmentLine: number | undefined
  let duration = 0
  let discontinuity = false
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim()
    if (line === '') continue
    const segmentTag =
      line.startsWith('#EXTINF:') ||
      line.startsWith('#EXT-X-PART:') ||
      line.startsWith('#EXT-X-PROGRAM-DATE-TIME:') ||
      line.startsWith('#EXT-X-BYTERANGE:') ||
      line === '#EXT-X-DISCONTINUITY' ||
      line === '#EXT-X-GAP' ||
      line.startsWith('#EXT-X-BITRATE:') ||
      line.startsWith('#EXT-X-DATERANGE:') ||
      CARRIED.some((tag) => line.startsWith(tag))
    if (segmentTag) firstSegmentLine ??= index
    if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8)) || 0
    if (line === '#EXT-X-DISCONTINUITY') discontinuity = true
    if (!line.startsWith('#')) {
      segments.push({ end: index, duration, discontinuity })
      firstSegmentLine ??= index
      duration = 0
      discontinuity = false
    }
  }
  if (firstSegmentLine === undefined) return undefined
  let remaining = segments.reduce((total, segment) => total + segment.duration, 0)
  let skipped = 0
  for (const segment of segments) {
    if (segment.discontinuity || remaining - segment.duration < skipUntil) break
    remaining -= segment.duration
    skipped++
  }
  const lastSkipped = segments[skipped - 1]
  if (lastSkipped === undefined) return undefined
  const skippedLines = lines.slice(firstSegmentLine, lastSkipped.end + 1)
  const kept: string[] = []
  for (const tag of CARRIED) {
    const last = skippedLines.findLast((line) => line.startsWith(tag))
    if (last !== undefined) kept.push(last)
  }
  kept.push(...skippedLines.filter((line) => line.startsWith('#EXT-X-DATERANGE:')))
  const playlistTags = skippedLines.filter((line) =>
    PLAYLIST_TAGS.some((tag) => line.startsWith(tag)),
  )
  const header = [...lines.slice(0, firstSegmentLine), ...playlistTags].map((line) => {
    const version = /^#EXT-X-VERSION:(\d+)$/.exec(line.trim())
    return version && Number(version[1]) < SKIP_VERSION ? `#EXT-X-VERSION:${SKIP_VERSION}` : line
  })
  if (!header.some((line) => line.startsWith('#EXT-X-VERSION:'))) {
    header.splice(1, 0, `#EXT-X-VERSION:${SKIP_VERSION}`)
  }
  return [
    ...header,
    `#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`,
    ...kept,
    ...lines.slice(lastSkipped.end + 1),
  ].join(eol)
}
