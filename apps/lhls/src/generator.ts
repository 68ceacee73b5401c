import { setTimeout as sleep } from 'node:timers/promises'
import { LlPublisher } from './ll-publisher.js'
import { AudioTsMuxer, FRAME_SECONDS, FRAME_TICKS, silentAacFrame } from './mpegts.js'
import { putObject, startUpload } from './origin.js'

const SEGMENT_HEADERS = { 'Content-Type': 'video/mp2t', 'Cache-Control': 'max-age=60' }
const SEGMENT_FRAMES = 50
const FRAMES_PER_CHUNK = 5

export interface GeneratorOptions {
  /** Path of the playlist on the origin (default /live/stream.m3u8); segments go beside it. */
  readonly playlist?: string
  /** Audio frames per segment (default 50, 1.07 s). */
  readonly segmentFrames?: number
  /** Segments listed in the live playlist (default 6; 12 for LL-HLS). */
  readonly window?: number
  /** Frames written per chunk of a segment's upload (default 5, about 0.1 s). */
  readonly framesPerChunk?: number
  /**
   * LL-HLS: each segment is also published as parts of `framesPerPart` frames (default 10, about
   * 0.21 s), with a preload hint and blocking reload (default path /live/ll/stream.m3u8).
   */
  readonly lowLatency?: boolean
  readonly framesPerPart?: number
  /** Told of every playlist published (LL-HLS), for tests. */
  readonly onPlaylist?: (text: string) => void
  readonly signal?: AbortSignal
}

/** Silent AAC frames muxed into MPEG-TS, handed out in real time: never ahead of the audio clock. */
class LiveAudio {
  readonly #muxer = new AudioTsMuxer()
  readonly #frame = silentAacFrame()
  readonly #started = performance.now()
  /** The wall clock of the first sample: each segment's program date time counts from it. */
  readonly startedAt = Date.now()
  #index = 0

  /** Frames handed out so far. */
  get index(): number {
    return this.#index
  }

  /** The stream's tables, which start every segment (and part) so that it decodes alone. */
  tables(): Buffer {
    return this.#muxer.tables()
  }

  /** The next `count` frames, once they are due. */
  async frames(count: number, signal: AbortSignal | undefined): Promise<Buffer> {
    const chunk: Buffer[] = []
    for (let i = 0; i < count; i++) {
      chunk.push(this.#muxer.frame(this.#frame, 90_000 + this.#index++ * FRAME_TICKS))
    }
    const due = this.#started + this.#index * FRAME_SECONDS * 1000 - performance.now()
    if (due > 0) await sleep(due, undefined, signal ? { signal } : {})
    return Buffer.concat(chunk)
  }
}

/**
 * The generator's LL-HLS feed: silent AAC in MPEG-TS parts, each starting with its own tables
 * (so that every part decodes alone: all are INDEPENDENT), written in real time into the part's
 * upload as the frames are due.
 */
async function runLowLatency(origin: string, options: GeneratorOptions): Promise<void> {
  const segmentFrames = options.segmentFrames ?? SEGMENT_FRAMES
  const framesPerPart = options.framesPerPart ?? 10
  const framesPerChunk = Math.min(options.framesPerChunk ?? FRAMES_PER_CHUNK, framesPerPart)
  const signal = options.signal
  const publisher = new LlPublisher(origin, {
    playlist: options.playlist ?? '/live/ll/stream.m3u8',
    contentType: 'video/mp2t',
    extension: 'ts',
    partTarget: framesPerPart * FRAME_SECONDS,
    targetDuration: Math.ceil(segmentFrames * FRAME_SECONDS),
    ...(options.window === undefined ? {} : { window: options.window }),
    ...(options.onPlaylist === undefined ? {} : { onPlaylist: options.onPlaylist }),
  })
  const audio = new LiveAudio()
  try {
    while (!signal?.aborted) {
      const partStart = audio.index
      const frames = Math.min(framesPerPart, segmentFrames - (partStart % segmentFrames))
      await publisher.beginPart(partStart % segmentFrames === 0)
      await publisher.write(audio.tables())
      for (let written = 0; written < frames; written += framesPerChunk) {
        await publisher.write(
          await audio.frames(Math.min(framesPerChunk, frames - written), signal),
        )
      }
      const programDate = new Date(audio.startedAt + partStart * FRAME_SECONDS * 1000)
      await publisher.endPart(frames * FRAME_SECONDS, true, programDate)
    }
  } catch (error) {
    if (!signal?.aborted) throw error
  } finally {
    await publisher.close()
  }
}

/**
 * The built-in feed when ffmpeg is not installed: a live HLS stream of silent AAC audio in
 * MPEG-TS. Each segment is uploaded with one chunked PUT written in real time (the low-latency
 * part: players can read a segment while it is produced), then the playlist is replaced with the
 * last `window` segments; with `lowLatency`, an LL-HLS stream of parts instead. Resolves when
 * `signal` aborts.
 */
export async function runGenerator(origin: string, options: GeneratorOptions = {}): Promise<void> {
  if (options.lowLatency) return runLowLatency(origin, options)
  const playlist = options.playlist ?? '/live/stream.m3u8'
  const directory = playlist.slice(0, playlist.lastIndexOf('/') + 1)
  const segmentFrames = options.segmentFrames ?? SEGMENT_FRAMES
  const window = options.window ?? 6
  const framesPerChunk = options.framesPerChunk ?? FRAMES_PER_CHUNK
  const signal = options.signal
  const audio = new LiveAudio()
  const segmentSeconds = segmentFrames * FRAME_SECONDS
  for (let sequence = 0; !signal?.aborted; sequence++) {
    const upload = startUpload(`${origin}${directory}segment-${sequence}.ts`, SEGMENT_HEADERS)
    try {
      await upload.write(audio.tables())
      for (let written = 0; written < segmentFrames; written += framesPerChunk) {
        const count = Math.min(framesPerChunk, segmentFrames - written)
        await upload.write(await audio.frames(count, signal))
      }
      await upload.end()
    } catch (error) {
      upload.abort()
      if (signal?.aborted) return
      throw error
    }
    const first = Math.max(0, sequence - window + 1)
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      `#EXT-X-TARGETDURATION:${Math.ceil(segmentSeconds)}`,
    ]
    lines.push(`#EXT-X-MEDIA-SEQUENCE:${first}`)
    for (let n = first; n <= sequence; n++) {
      const programDate = new Date(audio.startedAt + n * segmentSeconds * 1000).toISOString()
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${programDate}`)
      lines.push(`#EXTINF:${segmentSeconds.toFixed(5)},`, `segment-${n}.ts`)
    }
    await putObject(
      origin,
      playlist,
      Buffer.from(`${lines.join('\n')}\n`),
      'application/vnd.apple.mpegurl',
    )
  }
}
