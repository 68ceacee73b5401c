import type { Readable } from 'node:stream'
import { fragmentInfo, type TrackDefaults, topLevelBoxes, trackDefaults } from './fmp4.js'
import { LlPublisher } from './ll-publisher.js'

export interface PackagerOptions {
  /** Path of the playlist on the origin (default /live/ll/stream.m3u8); media go beside it. */
  readonly playlist?: string
  /** Longest part, seconds (default 0.2): the encoder's fragment duration. */
  readonly partTarget?: number
  /** `EXT-X-TARGETDURATION`, seconds (default 1): the encoder's key frame interval. */
  readonly targetDuration?: number
  /** Complete segments listed (default 12). */
  readonly window?: number
  /** Told of every playlist published, for tests. */
  readonly onPlaylist?: (text: string) => void
}

/**
 * An LL-HLS packager for fragmented MP4 (one video track, a fragment per part, a key frame at the
 * start of each segment, as `startFfmpegFmp4` makes it): publishes the init segment (`EXT-X-MAP`),
 * then each fragment as a part, a key frame after half a target duration starting a new segment.
 * Resolves when the stream ends.
 */
export async function runLlHlsPackager(
  origin: string,
  media: Readable,
  options: PackagerOptions = {},
): Promise<void> {
  const targetDuration = options.targetDuration ?? 1
  const publisher = new LlPublisher(origin, {
    playlist: options.playlist ?? '/live/ll/stream.m3u8',
    contentType: 'video/mp4',
    extension: 'm4s',
    partTarget: options.partTarget ?? 0.2,
    targetDuration,
    map: 'init.mp4',
    ...(options.window === undefined ? {} : { window: options.window }),
    ...(options.onPlaylist === undefined ? {} : { onPlaylist: options.onPlaylist }),
  })
  let header: Buffer[] = []
  let defaults: TrackDefaults | undefined
  let moof: Buffer | undefined
  // The wall clock of media time 0: media time runs with the wall clock (`-re`), so a part's
  // program date time is when its first frame was taken.
  let clockZero: number | undefined
  try {
    for await (const box of topLevelBoxes(media)) {
      if (defaults === undefined) {
        header.push(box.data)
        if (box.type === 'moov') {
          defaults = trackDefaults(box.data)
          await publisher.putBeside('init.mp4', Buffer.concat(header), 'video/mp4')
          header = []
        }
      } else if (box.type === 'moof') {
        moof = box.data
      } else if (box.type === 'mdat' && moof !== undefined) {
        const fragment = fragmentInfo(moof, defaults)
        clockZero ??= Date.now() - (fragment.start + fragment.duration) * 1000
        const cut = publisher.segmentDuration >= targetDuration / 2
        await publisher.beginPart(fragment.independent && cut)
        await publisher.write(Buffer.concat([moof, box.data]))
        moof = undefined
        const programDate = new Date(clockZero + fragment.start * 1000)
        await publisher.endPart(fragment.duration, fragment.independent, programDate)
      }
    }
  } finally {
    await publisher.close()
  }
}
