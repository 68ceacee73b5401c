import { setTimeout as sleep } from 'node:timers/promises'
import { AudioTsMuxer, FRAME_SECONDS, FRAME_TICKS, silentMp3Frame } from './mpegts.js'
import { putObject, startUpload } from './origin.js'

const SEGMENT_HEADERS = { 'Content-Type': 'video/mp2t', 'Cache-Control': 'max-age=60' }

export interface GeneratorOptions {
  /** Path of the playlist on the origin (default /live/stream.m3u8); segments go beside it. */
  readonly playlist?: string
  /** MP3 frames per segment (default 40, 1.04 s). */
  readonly segmentFrames?: number
  /** Segments listed in the live playlist (default 6). */
  readonly window?: number
  /** Frames written per chunk of a segment's upload (default 4, about 0.1 s). */
  readonly framesPerChunk?: number
  readonly signal?: AbortSignal
}

/**
 * The built-in feed when ffmpeg is not installed: a live HLS stream of silent MP3 audio in
 * MPEG-TS. Each segment is uploaded with one chunked PUT written in real time (the low-latency
 * part: players can read a segment while it is produced), then the playlist is replaced with the
 * last `window` segments. Resolves when `signal` aborts.
 */
export async function runGenerator(origin: string, options: GeneratorOptions = {}): Promise<void> {
  const playlist = options.playlist ?? '/live/stream.m3u8'
  const directory = playlist.slice(0, playlist.lastIndexOf('/') + 1)
  const segmentFrames = options.segmentFrames ?? 40
  const window = options.window ?? 6
  const framesPerChunk = options.framesPerChunk ?? 4
  const signal = options.signal
  const muxer = new AudioTsMuxer()
  const frame = silentMp3Frame()
  const started = performance.now()
  // The wall clock of the first sample: each segment's EXT-X-PROGRAM-DATE-TIME, which lets a
  // player tell how far behind real time it plays.
  const startedAt = Date.now()
  const segmentSeconds = segmentFrames * FRAME_SECONDS
  let frameIndex = 0
  for (let sequence = 0; !signal?.aborted; sequence++) {
    const upload = startUpload(`${origin}${directory}segment-${sequence}.ts`, SEGMENT_HEADERS)
    try {
      await upload.write(muxer.tables())
      for (let written = 0; written < segmentFrames; written += framesPerChunk) {
        const count = Math.min(framesPerChunk, segmentFrames - written)
        const chunk: Buffer[] = []
        for (let i = 0; i < count; i++)
          chunk.push(muxer.frame(frame, 90_000 + frameIndex++ * FRAME_TICKS))
        // Real time: never run ahead of the audio clock.
        const due = started + frameIndex * FRAME_SECONDS * 1000 - performance.now()
        if (due > 0) await sleep(due, undefined, signal ? { signal } : {})
        await upload.write(Buffer.concat(chunk))
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
      const programDate = new Date(startedAt + n * segmentSeconds * 1000).toISOString()
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
