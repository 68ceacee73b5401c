/** One part of a segment (RFC 8216bis §4.4.4.9). */
export interface Part {
  readonly uri: string
  readonly duration: number
  /** It starts with a sample that decodes alone (a key frame; every audio part). */
  readonly independent: boolean
}

interface Segment {
  readonly msn: number
  readonly programDate: Date
  readonly parts: Part[]
  /** Set when the segment is complete: the URI of the whole segment, and its duration. */
  uri?: string
  duration?: number
}

const sum = (parts: readonly Part[]) => parts.reduce((total, part) => total + part.duration, 0)

export interface LlPlaylistOptions {
  /** Longest part, seconds (`PART-TARGET`); parts must not be longer. */
  readonly partTarget: number
  /** `EXT-X-TARGETDURATION`: every segment rounds to it or less, seconds. */
  readonly targetDuration: number
  /** Complete segments listed (default 12). */
  readonly window?: number
  /**
   * `CAN-SKIP-UNTIL`, seconds (default six target durations, the least RFC 8216bis allows): the
   * origin answers `_HLS_skip` with delta updates that leave out the segments older than that.
   */
  readonly canSkipUntil?: number
  /** Complete segments whose parts are still listed (default 2, with the one in progress). */
  readonly partWindow?: number
  /** `EXT-X-MAP` URI (fMP4's init segment), if any. */
  readonly map?: string
}

/**
 * A low-latency HLS media playlist as a packager builds it part by part: segments, their parts
 * while they are recent, `EXT-X-PROGRAM-DATE-TIME` on every segment, the server control and part
 * information tags, and a preload hint for the next part. Tells which URIs left the window so
 * that the packager can delete them.
 */
export class LlPlaylist {
  readonly #options: Required<Omit<LlPlaylistOptions, 'map'>> & { map?: string }
  readonly #segments: Segment[] = []
  #nextMsn = 0
  #removed: string[] = []

  constructor(options: LlPlaylistOptions) {
    this.#options = {
      window: 12,
      partWindow: 2,
      canSkipUntil: 6 * options.targetDuration,
      ...options,
    }
  }

  /** The segment in progress, if any. */
  get #open(): Segment | undefined {
    const last = this.#segments.at(-1)
    return last?.uri === undefined ? last : undefined
  }

  /** Media sequence number of the segment in progress (or of the next one). */
  get currentMsn(): number {
    return this.#open?.msn ?? this.#nextMsn
  }

  /** Whether a segment is complete: a playlist without one gives a player nowhere to start. */
  get hasSegment(): boolean {
    return this.#segments.some((segment) => segment.uri !== undefined)
  }

  /** Duration of the segment in progress so far, seconds. */
  get openDuration(): number {
    return sum(this.#open?.parts ?? [])
  }

  /** Adds a part; it starts a new segment, whose first sample is at `programDate`, if none is open. */
  addPart(part: Part, programDate: Date): void {
    let segment = this.#open
    if (segment === undefined) {
      segment = { msn: this.#nextMsn++, programDate, parts: [] }
      this.#segments.push(segment)
    }
    segment.parts.push(part)
  }

  /** The segment in progress is complete: the whole of it is at `uri`. */
  closeSegment(uri: string): void {
    const segment = this.#open
    if (segment === undefined) return
    segment.uri = uri
    segment.duration = sum(segment.parts)
    const complete = this.#segments.filter((s) => s.uri !== undefined)
    for (const [index, old] of complete.entries()) {
      const fromEnd = complete.length - index
      if (fromEnd > this.#options.window) {
        this.#segments.splice(this.#segments.indexOf(old), 1)
        this.#removed.push(old.uri ?? '')
      }
      if (fromEnd > this.#options.partWindow && old.parts.length > 0) {
        this.#removed.push(...old.parts.map((p) => p.uri))
        old.parts.length = 0
      }
    }
  }

  /** URIs that left the playlist since the last call: delete them. */
  takeRemoved(): string[] {
    const removed = this.#removed
    this.#removed = []
    return removed
  }

  /** The playlist text, with `hint` as the preload hint of the next part. */
  render(hint?: string): string {
    const { partTarget, targetDuration, canSkipUntil, map } = this.#options
    const first = this.#segments[0]?.msn ?? this.#nextMsn
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      `#EXT-X-TARGETDURATION:${targetDuration}`,
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=${canSkipUntil},PART-HOLD-BACK=${(3 * partTarget).toFixed(3)}`,
      `#EXT-X-PART-INF:PART-TARGET=${partTarget.toFixed(5)}`,
      `#EXT-X-MEDIA-SEQUENCE:${first}`,
    ]
    if (map !== undefined) lines.push(`#EXT-X-MAP:URI="${map}"`)
    for (const segment of this.#segments) {
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${segment.programDate.toISOString()}`)
      for (const part of segment.parts) {
        const independent = part.independent ? ',INDEPENDENT=YES' : ''
        lines.push(
          `#EXT-X-PART:DURATION=${part.duration.toFixed(5)},URI="${part.uri}"${independent}`,
        )
      }
      if (segment.uri !== undefined) {
        lines.push(`#EXTINF:${(segment.duration ?? 0).toFixed(5)},`, segment.uri)
      }
    }
    if (hint !== undefined) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${hint}"`)
    return `${lines.join('\n')}\n`
  }
}
