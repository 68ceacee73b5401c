// bench:lhls — live latency of standard HLS, LL-HLS and LL-DASH in the same run: the origin, an
// ffmpeg feed and the player page in headless Chromium, sampled every 500 ms after a warm-up.
//   pnpm --filter @sluice-apps/lhls bench:lhls [-- --seconds 60 --warmup 10]
import { parseArgs } from 'node:util'
import { benchArgs, launchChromium, listen, tempDir } from '@sluice/test-utils'
import { MODES, type Mode, startFeed } from './feeds.js'
import { createOrigin, publishPlayer } from './origin.js'

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '10' },
    modes: { type: 'string', default: 'standard,ll,dash' },
  },
})
const seconds = Number(values.seconds)
const warmup = Number(values.warmup)

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN

interface PlayerState {
  latency: number | undefined
  edgeLatency: number | undefined
  stalls: number
  parts: number
  fragments: number
}

async function measure(mode: Mode) {
  const dir = await tempDir('lhls-bench-')
  const server = createOrigin(dir.path)
  await server.handler.ready
  const origin = await listen(server)
  await publishPlayer(origin.url)
  const feed = startFeed(origin.url, mode)
  const browser = await launchChromium()
  try {
    const page = await browser.newPage()
    await page.goto(`${origin.url}${MODES[mode].page}`)
    await page.waitForFunction('window.playerState.latency !== undefined', undefined, {
      timeout: 30_000,
    })
    await new Promise((resolve) => setTimeout(resolve, warmup * 1000))
    const start = (await page.evaluate('window.playerState')) as PlayerState
    const samples: number[] = []
    const edge: number[] = []
    for (let elapsed = 0; elapsed < seconds * 1000; elapsed += 500) {
      await new Promise((resolve) => setTimeout(resolve, 500))
      const state = (await page.evaluate('window.playerState')) as PlayerState
      if (state.latency !== undefined) samples.push(state.latency)
      if (state.edgeLatency !== undefined) edge.push(state.edgeLatency)
    }
    edge.sort((a, b) => a - b)
    const end = (await page.evaluate('window.playerState')) as PlayerState
    samples.sort((a, b) => a - b)
    return {
      mode: MODES[mode].label,
      samples: samples.length,
      p50: percentile(samples, 50),
      p95: percentile(samples, 95),
      edge: edge.length > 0 ? percentile(edge, 50).toFixed(2) : '–',
      stalls: end.stalls - start.stalls,
      loaded:
        end.parts > 0
          ? `${end.parts - start.parts} parts`
          : `${end.fragments - start.fragments} segments`,
    }
  } finally {
    await browser.close()
    await feed.stop()
    await origin.close()
    await dir.remove()
  }
}

const results = []
for (const mode of values.modes.split(',') as Mode[]) {
  process.stderr.write(`bench:lhls: ${MODES[mode].label}, ${warmup} s warm-up + ${seconds} s…\n`)
  results.push(await measure(mode))
}
const standard = results[0]?.p50 ?? Number.NaN
console.log(`live latency, ${seconds} s after ${warmup} s of warm-up, sampled every 500 ms`)
console.log(
  'mode          | p50 (s) | p95 (s) | stalls | loaded          | hls.js edge p50 | p50 vs first',
)
for (const r of results) {
  console.log(
    `${r.mode.padEnd(13)} | ${r.p50.toFixed(2).padStart(7)} | ${r.p95.toFixed(2).padStart(7)} | ${String(r.stalls).padStart(6)} | ${r.loaded.padEnd(15)} | ${r.edge.padStart(15)} | ${(r.p50 / standard).toFixed(2)}`,
  )
}
