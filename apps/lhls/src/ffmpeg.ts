import { type ChildProcess, type ChildProcessByStdio, spawn, spawnSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'

/** Whether an `ffmpeg` binary runs here. */
export function ffmpegAvailable(): boolean {
  return spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0
}

/** A test picture made in real time (`-re`); ffmpeg says nothing but errors. */
const LIVE_PICTURE = [
  ...['-hide_banner', '-loglevel', 'error', '-re'],
  ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25'],
]

/** H.264 for low latency: no B-frames, a key frame every second exactly (25 frames at 25 fps). */
const KEY_FRAME_EVERY_SECOND = [
  ...['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p'],
  ...['-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-bf', '0'],
]

/**
 * ffmpeg runs in a process group of its own: a Ctrl-C reaches only the demo, which stops its feed
 * itself.
 */
const OWN_GROUP = { detached: true } as const

/**
 * ffmpeg's HLS muxer publishing a generated test picture and tone to the origin over HTTP PUT
 * (each segment streamed as it is encoded, 1 s segments, old ones deleted with DELETE; each
 * segment carries its EXT-X-PROGRAM-DATE-TIME, from which the player shows its latency).
 */
export function startFfmpeg(origin: string, playlist = '/live/stream.m3u8'): ChildProcess {
  const args = [
    ...LIVE_PICTURE,
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
    ...[
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-tune',
      'zerolatency',
      '-g',
      '25',
      '-pix_fmt',
      'yuv420p',
    ],
    ...['-c:a', 'aac', '-b:a', '96k'],
    ...[
      '-f',
      'hls',
      '-hls_time',
      '1',
      '-hls_list_size',
      '6',
      '-hls_flags',
      'delete_segments+program_date_time',
    ],
    ...['-method', 'PUT', '-http_persistent', '1'],
    `${origin}${playlist}`,
  ]
  return spawn('ffmpeg', args, { stdio: ['ignore', 'inherit', 'inherit'], ...OWN_GROUP })
}

/**
 * ffmpeg encoding a test picture in real time to fragmented MP4 on its stdout, for the LL-HLS
 * packager: H.264 (no B-frames), a key frame every second exactly, one fragment every 200 ms (five
 * frames at 25 fps). Video only: one track keeps every part the same length.
 */
export function startFfmpegFmp4(): ChildProcessByStdio<null, Readable, null> {
  const args = [
    ...LIVE_PICTURE,
    ...KEY_FRAME_EVERY_SECOND,
    ...['-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof'],
    ...['-frag_duration', '200000', 'pipe:1'],
  ]
  return spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'inherit'], ...OWN_GROUP })
}

/**
 * ffmpeg's DASH muxer in low-latency mode publishing a test picture to the origin over HTTP PUT:
 * CMAF chunks of 200 ms inside 1 s segments, each segment PUT while it is encoded (chunked), so
 * that dash.js reads the segment in progress from the origin's live GET.
 */
export function startFfmpegDash(origin: string, manifest = '/live/dash/stream.mpd'): ChildProcess {
  const args = [
    ...LIVE_PICTURE,
    ...KEY_FRAME_EVERY_SECOND,
    ...['-f', 'dash', '-ldash', '1', '-streaming', '1', '-seg_duration', '1'],
    ...['-frag_type', 'duration', '-frag_duration', '0.2', '-window_size', '6'],
    ...['-remove_at_exit', '1', '-use_template', '1', '-use_timeline', '0'],
    ...['-method', 'PUT', '-http_persistent', '1'],
    `${origin}${manifest}`,
  ]
  const ffmpeg = spawn('ffmpeg', args, { stdio: ['ignore', 'inherit', 'pipe'], ...OWN_GROUP })
  // Said once at start when writing over HTTP, where nothing is renamed: not worth a user's eye.
  const lines = createInterface({ input: ffmpeg.stderr })
  lines.on('line', (line) => {
    if (!line.includes('Cannot use rename on non file protocol')) process.stderr.write(`${line}\n`)
  })
  return ffmpeg
}
