// `pnpm dev`: the live origin on :3002 fed by ffmpeg (when installed) or the built-in generator.
import { scratchDir, serve } from '@sluice/internal/cli'
import { ffmpegAvailable, startFfmpeg } from './ffmpeg.js'
import { runGenerator } from './generator.js'
import { createOrigin, publishPlayer } from './origin.js'

const port = Number(process.env['PORT'] ?? 3002)
// The origin's objects live in a temporary directory removed when the demo stops.
const root = await scratchDir('sluice-lhls-')
const server = createOrigin(root)
await server.handler.ready
await serve([{ server, name: '[lhls] chunked-server', host: '127.0.0.1', port }])
const origin = `http://127.0.0.1:${port}`
await publishPlayer(origin)
const useGenerator = process.env['LHLS_FEED'] === 'generator' || !ffmpegAvailable()
console.log(`[lhls] open ${origin}/player/index.html (playlist ${origin}/live/stream.m3u8)`)
if (useGenerator) {
  console.log(
    '[lhls] feed: built-in generator (silent MP3 audio in MPEG-TS; install ffmpeg for video)',
  )
  runGenerator(origin).catch((error: unknown) => {
    console.error(`[lhls] generator stopped: ${(error as Error).message}`)
    process.exitCode = 1
  })
} else {
  console.log(
    '[lhls] feed: ffmpeg HLS muxer over HTTP PUT (test picture and tone; LHLS_FEED=generator for the other)',
  )
  const ffmpeg = startFfmpeg(origin)
  ffmpeg.once('exit', (code) => console.error(`[lhls] ffmpeg exited with ${code}`))
  process.once('exit', () => ffmpeg.kill())
}
