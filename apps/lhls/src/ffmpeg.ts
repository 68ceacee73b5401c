import { type ChildProcess, spawn, spawnSync } from 'node:child_process'

/** Whether an `ffmpeg` binary runs here. */
export function ffmpegAvailable(): boolean {
  return spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0
}

/**
 * ffmpeg's HLS muxer publishing a generated test picture and tone to the origin over HTTP PUT
 * (each segment streamed as it is encoded, 1 s segments, old ones deleted with DELETE; each
 * segment carries its EXT-X-PROGRAM-DATE-TIME, from which the player shows its latency).
 */
export function startFfmpeg(origin: string, playlist = '/live/stream.m3u8'): ChildProcess {
  const args = [
    ...['-hide_banner', '-loglevel', 'error', '-re'],
    ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25'],
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
  return spawn('ffmpeg', args, { stdio: ['ignore', 'inherit', 'inherit'] })
}
