import { LlPlaylist } from './ll-playlist.js'
import { deleteObject, putObject, startUpload, type Upload } from './origin.js'

const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl'

export interface LlPublisherOptions {
  /** Path of the playlist on the origin; media go beside it. */
  readonly playlist: string
  /** Content type of parts and segments (`video/mp4`, `video/mp2t`). */
  readonly contentType: string
  /** File extension of parts and segments (`m4s`, `ts`). */
  readonly extension: string
  readonly partTarget: number
  readonly targetDuration: number
  /** Complete segments listed (default 12). */
  readonly window?: number
  /** `EXT-X-MAP` URI, for fMP4. */
  readonly map?: string
  /** Told of every playlist published, for tests. */
  readonly onPlaylist?: (text: string) => void
}

/**
 * Publishes an LL-HLS stream into the origin part by part: each part is its own object, its PUT
 * opened as soon as the part before it ends, so that the player's GET of the preload hint is
 * answered live; the bytes go to the whole segment's upload too (for players without LL support);
 * the playlist is replaced after every part (once it has a whole segment); what leaves the window
 * is deleted.
 */
export class LlPublisher {
  readonly #origin: string
  readonly #options: LlPublisherOptions
  readonly #directory: string
  readonly #playlist: LlPlaylist
  readonly #headers: Record<string, string>
  #partNumber = 0
  #part: Upload
  #segment: Upload | undefined
  #deletions: Promise<void>[] = []

  constructor(origin: string, options: LlPublisherOptions) {
    this.#origin = origin
    this.#options = options
    this.#directory = options.playlist.slice(0, options.playlist.lastIndexOf('/') + 1)
    this.#playlist = new LlPlaylist({
      partTarget: options.partTarget,
      targetDuration: options.targetDuration,
      ...(options.window === undefined ? {} : { window: options.window }),
      ...(options.map === undefined ? {} : { map: options.map }),
    })
    this.#headers = { 'Content-Type': options.contentType, 'Cache-Control': 'max-age=60' }
    this.#part = this.#open(this.#partName(0))
  }

  #partName(n: number): string {
    return `part${n}.${this.#options.extension}`
  }

  #open(name: string): Upload {
    return startUpload(`${this.#origin}${this.#directory}${name}`, this.#headers)
  }

  /** Duration of the segment in progress so far, seconds. */
  get segmentDuration(): number {
    return this.#playlist.openDuration
  }

  /** Uploads an object beside the playlist (the init segment). */
  putBeside(name: string, body: Buffer, contentType: string): Promise<void> {
    return putObject(this.#origin, `${this.#directory}${name}`, body, contentType)
  }

  /** Starts the next part; with `newSegment`, the segment in progress is complete first. */
  async beginPart(newSegment: boolean): Promise<void> {
    if (newSegment && this.#segment !== undefined) {
      const done = this.#segment
      this.#segment = undefined
      this.#playlist.closeSegment(`seg${this.#playlist.currentMsn}.${this.#options.extension}`)
      await done.end()
    }
    this.#segment ??= this.#open(`seg${this.#playlist.currentMsn}.${this.#options.extension}`)
  }

  /** Bytes of the part in progress (and of its segment), as they are produced. */
  async write(chunk: Buffer): Promise<void> {
    await Promise.all([this.#part.write(chunk), this.#segment?.write(chunk)])
  }

  /** The part in progress is complete: it is listed, and the next part's PUT is opened. */
  async endPart(duration: number, independent: boolean, programDate: Date): Promise<void> {
    const part = this.#part
    const uri = this.#partName(this.#partNumber++)
    this.#part = this.#open(this.#partName(this.#partNumber))
    await part.end()
    this.#playlist.addPart({ uri, duration, independent }, programDate)
    if (this.#playlist.hasSegment) {
      const text = this.#playlist.render(this.#partName(this.#partNumber))
      // Each version is new a moment later: caches must ask again (blocking reloads have URLs of
      // their own, which the origin answers only once the version they ask for exists).
      await putObject(this.#origin, this.#options.playlist, Buffer.from(text), PLAYLIST_TYPE, {
        'Cache-Control': 'no-cache',
      })
      this.#options.onPlaylist?.(text)
    }
    for (const removed of this.#playlist.takeRemoved()) {
      // Best effort (the origin expires old objects by their max-age anyway); a failed one must
      // not be an unhandled rejection while it waits for the next batch to be settled.
      const deletion = deleteObject(`${this.#origin}${this.#directory}${removed}`)
      deletion.catch(() => {})
      this.#deletions.push(deletion)
    }
    if (this.#deletions.length > 64) await Promise.allSettled(this.#deletions.splice(0))
  }

  /** Stops: the part and segment in progress are abandoned (their readers end abnormally). */
  async close(): Promise<void> {
    this.#part.abort()
    this.#segment?.abort()
    await Promise.allSettled(this.#deletions.splice(0))
  }
}
