// `pnpm dev`: the live origin on :3002 with one feed: LL-HLS by default (LHLS_MODE=standard for
// standard HLS, the comparison; LHLS_MODE=dash for LL-DASH), from ffmpeg when it is installed or
// the built-in generator (LHLS_FEED=generator).
import { scratchDir, serve } from '@sluice/internal/cli'
import { MODES, type Mode, startFeed } from './feeds.js'
import { ffmpegAvailable } from './ffmpeg.js'
import { createOrigin, publishPlayer } from './origin.js'

const port = Number(process.env['PORT'] ?? 3002)
const asked = process.env['LHLS_MODE'] ?? 'll'
if (!(asked in MODES)) {
  console.error(`[lhls] LHLS_MODE must be one of ${Object.keys(MODES).join(', ')}, not "${asked}"`)
  process.exit(2)
}
const generator = process.env['LHLS_FEED'] === 'generator' || !ffmpegAvailable()
// The generator makes HLS (LL and standard) but no DASH: that needs ffmpeg.
const mode: Mode = generator && asked === 'dash' ? 'll' : (asked as Mode)
if (mode !== asked) {
  console.log(
    '[lhls] the built-in generator makes no LL-DASH (ffmpeg does): showing LL-HLS instead',
  )
}
// The origin's objects live in a temporary directory removed when the demo stops.
const root = await scratchDir('sluice-lhls-')
const server = createOrigin(root)
await server.handler.ready
await serve([{ server, name: '[lhls] chunked-server', host: '127.0.0.1', port }])
const origin = `http://127.0.0.1:${port}`
await publishPlayer(origin)
const feed = startFeed(origin, mode, generator)
let stopping = false
feed.done.catch((error: Error) => {
  if (stopping) return
  console.error(`[lhls] the feed stopped: ${error.message}`)
  process.exitCode = 1
})
// The feed stops first on a signal (before the origin drains), and with the process in any case.
const stop = () => {
  if (stopping) return
  stopping = true
  void feed.stop()
}
process.prependListener('SIGINT', stop)
process.prependListener('SIGTERM', stop)
process.once('exit', stop)
console.log(
  generator
    ? `[lhls] feed: built-in generator, ${MODES[mode].label} (silent AAC audio in MPEG-TS; install ffmpeg for video and LL-DASH)`
    : `[lhls] feed: ffmpeg test picture, ${MODES[mode].label}`,
)
console.log(`[lhls] open ${origin}${MODES[mode].page}`)
for (const [other, info] of Object.entries(MODES)) {
  if (other !== mode && !(generator && other === 'dash')) {
    console.log(`[lhls]   ${info.label}: LHLS_MODE=${other} pnpm dev, then ${origin}${info.page}`)
  }
}
