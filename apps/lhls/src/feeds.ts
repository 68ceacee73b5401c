import type { ChildProcess } from 'node:child_process'
import { startFfmpeg, startFfmpegDash, startFfmpegFmp4 } from './ffmpeg.js'
import { runGenerator } from './generator.js'
import { runLlHlsPackager } from './packager.js'

/** The three ways the demo streams: LL-HLS, standard HLS (the comparison) and LL-DASH. */
export type Mode = 'll' | 'standard' | 'dash'

export interface ModeInfo {
  readonly label: string
  /** The player page for this mode, on the origin. */
  readonly page: string
  /** The playlist or manifest, on the origin. */
  readonly manifest: string
}

export const MODES: Readonly<Record<Mode, ModeInfo>> = {
  ll: {
    label: 'LL-HLS',
    page: '/player/index.html?src=/live/ll/stream.m3u8',
    manifest: '/live/ll/stream.m3u8',
  },
  standard: {
    label: 'standard HLS',
    page: '/player/index.html?src=/live/stream.m3u8',
    manifest: '/live/stream.m3u8',
  },
  dash: {
    label: 'LL-DASH',
    page: '/player/dash.html?src=/live/dash/stream.mpd',
    manifest: '/live/dash/stream.mpd',
  },
}

/** A feed publishing into the origin until stopped. */
export interface Feed {
  /** Rejects when the feed fails on its own. */
  readonly done: Promise<void>
  stop(): Promise<void>
}

function ffmpegFeed(ffmpeg: ChildProcess, also?: Promise<void>): Feed {
  const exited = new Promise<void>((resolve, reject) => {
    ffmpeg.once('error', reject)
    ffmpeg.once('exit', (code, signal) =>
      code === 0 || signal !== null ? resolve() : reject(new Error(`ffmpeg exited with ${code}`)),
    )
  })
  const done = Promise.all([exited, also]).then(() => undefined)
  done.catch(() => {})
  return {
    done,
    // A live encoder has nothing to finish: it is killed. It runs in a process group of its own
    // (`detached`), so that a Ctrl-C reaches only this process, which stops it here.
    async stop() {
      ffmpeg.kill('SIGKILL')
      await done.catch(() => {})
    },
  }
}

/**
 * Starts the feed of `mode`: ffmpeg (a test picture, encoded in real time) unless `generator` is
 * asked for, then the built-in generator (silent AAC audio in MPEG-TS, LL-HLS or standard HLS; no
 * LL-DASH).
 */
export function startFeed(origin: string, mode: Mode, generator = false): Feed {
  if (generator) {
    if (mode === 'dash')
      throw new Error('the built-in generator makes HLS only: LL-DASH needs ffmpeg')
    const stopping = new AbortController()
    const done = runGenerator(origin, { lowLatency: mode === 'll', signal: stopping.signal })
    done.catch(() => {})
    return {
      done,
      async stop() {
        stopping.abort()
        await done.catch(() => {})
      },
    }
  }
  if (mode === 'standard') return ffmpegFeed(startFfmpeg(origin))
  if (mode === 'dash') return ffmpegFeed(startFfmpegDash(origin, MODES.dash.manifest))
  const ffmpeg = startFfmpegFmp4()
  return ffmpegFeed(ffmpeg, runLlHlsPackager(origin, ffmpeg.stdout))
}
