import type { Readable } from 'node:stream'
import { createFile, MP4BoxBuffer } from 'mp4box'

/** One top-level ISO BMFF box of a stream (`ftyp`, `moov`, `moof`, `mdat`…), whole. */
export interface TopLevelBox {
  readonly type: string
  readonly data: Buffer
}

/** Largest box accepted from the encoder: a fragment of a few hundred ms is far smaller. */
const MAX_BOX_BYTES = 64 * 1024 * 1024

/**
 * The top-level boxes of a fragmented MP4 stream (ffmpeg's `-movflags frag_keyframe+empty_moov`
 * output on its stdout), each yielded once all its bytes arrived. Only the box headers are read
 * here (size and type, RFC ISO/IEC 14496-12 §4.2); their contents are mp4box's to parse.
 */
export async function* topLevelBoxes(stream: Readable): AsyncGenerator<TopLevelBox> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  // Bytes the box at the head needs before it can be read: its header, then all of it. Chunks
  // are joined only then, so a box that arrives in many chunks is copied once.
  let needed = 8
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    pending.push(chunk)
    pendingBytes += chunk.length
    if (pendingBytes < needed) continue
    const buffer = pending.length === 1 ? chunk : Buffer.concat(pending, pendingBytes)
    let offset = 0
    for (;;) {
      const left = buffer.length - offset
      if (left < 8) {
        needed = 8
        break
      }
      let size = buffer.readUInt32BE(offset)
      const type = buffer.toString('latin1', offset + 4, offset + 8)
      if (size === 1) {
        if (left < 16) {
          needed = 16
          break
        }
        size = Number(buffer.readBigUInt64BE(offset + 8))
      }
      if (size < 8 || size > MAX_BOX_BYTES) throw new Error(`bad MP4 box ${type} of ${size} bytes`)
      if (left < size) {
        needed = size
        break
      }
      yield { type, data: buffer.subarray(offset, offset + size) }
      offset += size
    }
    const rest = buffer.subarray(offset)
    pending = rest.length > 0 ? [rest] : []
    pendingBytes = rest.length
  }
  if (pendingBytes > 0) throw new Error(`the MP4 stream ended inside a box (${pendingBytes} bytes)`)
}

/** Parses one whole box (or several) with mp4box. */
function parse(data: Buffer) {
  const file = createFile()
  const copy = data.buffer.slice(data.byteOffset, data.byteOffset + data.length) as ArrayBuffer
  file.appendBuffer(MP4BoxBuffer.fromArrayBuffer(copy, 0))
  return file
}

/** What a fragment's durations and flags default to, from the init segment. */
export interface TrackDefaults {
  readonly timescale: number
  readonly sampleDuration: number
  readonly sampleFlags: number
}

/** The first track's time scale and fragment defaults, from the `moov` box. */
export function trackDefaults(moov: Buffer): TrackDefaults {
  const file = parse(moov)
  const trak = file.moov?.traks[0]
  if (trak === undefined) throw new Error('the init segment has no track')
  const trex = file.moov?.mvex?.trexs?.find((t) => t.track_id === trak.tkhd.track_id)
  return {
    timescale: trak.mdia.mdhd.timescale,
    sampleDuration: trex?.default_sample_duration ?? 0,
    sampleFlags: trex?.default_sample_flags ?? 0,
  }
}

/** One fragment (`moof`), as a part of LL-HLS sees it. */
export interface FragmentInfo {
  /** Decode time of its first sample, seconds. */
  readonly start: number
  readonly duration: number
  /** Its first sample is a sync sample (a key frame). */
  readonly independent: boolean
}

/** `sample_is_non_sync_sample` of the sample flags (ISO/IEC 14496-12 §8.8.3.1). */
const NON_SYNC = 0x0001_0000
/** `trun` flag: `first_sample_flags` present. */
const FIRST_SAMPLE_FLAGS = 0x4

/** The timing of a `moof` box's first track fragment and whether it starts on a key frame. */
export function fragmentInfo(moof: Buffer, defaults: TrackDefaults): FragmentInfo {
  const traf = parse(moof).moofs[0]?.trafs[0]
  if (traf === undefined) throw new Error('a fragment without a track fragment')
  const duration = traf.truns.reduce((total, trun) => {
    const each = trun.sample_duration ?? []
    if (each.length === trun.sample_count) return total + each.reduce((a, b) => a + b, 0)
    const fixed = traf.tfhd.default_sample_duration ?? defaults.sampleDuration
    return total + trun.sample_count * fixed
  }, 0)
  const trun = traf.truns[0]
  const flags =
    trun !== undefined && (trun.flags & FIRST_SAMPLE_FLAGS) !== 0
      ? trun.first_sample_flags
      : (trun?.sample_flags?.[0] ?? traf.tfhd.default_sample_flags ?? defaults.sampleFlags)
  return {
    start: Number(traf.tfdt?.baseMediaDecodeTime ?? 0) / defaults.timescale,
    duration: duration / defaults.timescale,
    independent: (flags & NON_SYNC) === 0,
  }
}
