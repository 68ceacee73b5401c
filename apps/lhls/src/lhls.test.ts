import { spawn } from 'node:child_process'
import { get } from 'node:http'
import { chromiumPath, launchChromium, missingTool, paintedShare } from '@sluice/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { originForEachTest } from '../test/origin.js'
import { startFfmpeg } from './ffmpeg.js'
import { runGenerator } from './generator.js'
import { AudioTsMuxer, crc32Mpeg2, FRAME_TICKS, silentAacFrame } from './mpegts.js'
import { publishPlayer } from './origin.js'

const chromiumMissing = missingTool(chromiumPath)
const ffmpegMissing = missingTool('ffmpeg', ['-version'])

const origin = originForEachTest()
const feeds: AbortController[] = []
afterEach(() => {
  for (const feed of feeds.splice(0)) feed.abort()
})

function generate(options: Parameters<typeof runGenerator>[1] = {}) {
  const feed = new AbortController()
  feeds.push(feed)
  const running = runGenerator(origin.url, { ...options, signal: feed.signal })
  running.catch(() => {})
  return running
}

/** GETs `path` and records when each chunk of the body arrived. */
function timedGet(
  url: string,
): Promise<{ status: number; chunks: { at: number; data: Buffer }[] }> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    get(url, { headers: { Expires: 'in=5' } }, (res) => {
      const chunks: { at: number; data: Buffer }[] = []
      res.on('data', (data: Buffer) => chunks.push({ at: performance.now() - started, data }))
      res.once('end', () => resolve({ status: res.statusCode ?? 0, chunks }))
      res.once('error', reject)
    }).once('error', reject)
  })
}

describe('MPEG-TS muxer', () => {
  it('writes 188-byte packets, tables with valid CRCs and continuity counters in order', () => {
    const muxer = new AudioTsMuxer()
    const bytes = Buffer.concat([
      muxer.tables(),
      ...Array.from({ length: 20 }, (_, i) =>
        muxer.frame(silentAacFrame(), 90_000 + i * FRAME_TICKS),
      ),
    ])
    expect(bytes.length % 188).toBe(0)
    const counters = new Map<number, number>()
    for (let offset = 0; offset < bytes.length; offset += 188) {
      expect(bytes[offset]).toBe(0x47)
      const pid = bytes.readUInt16BE(offset + 1) & 0x1fff
      const counter = (bytes[offset + 3] ?? 0) & 0x0f
      const previous = counters.get(pid)
      if (previous !== undefined) expect(counter).toBe((previous + 1) & 0x0f)
      counters.set(pid, counter)
    }
    expect([...counters.keys()]).toEqual([0, 0x1000, 0x100])
    // A PSI section followed by its CRC-32/MPEG-2 has a CRC of 0.
    for (const packet of [bytes.subarray(0, 188), bytes.subarray(188, 376)]) {
      const adaptation = ((packet[3] ?? 0) & 0x20) !== 0 ? 1 + (packet[4] ?? 0) : 0
      const start = 4 + adaptation + 1 + (packet[4 + adaptation] ?? 0)
      const length = ((packet[start + 1] ?? 0) & 0x0f) * 256 + (packet[start + 2] ?? 0) + 3
      expect(crc32Mpeg2(packet.subarray(start, start + length))).toBe(0)
    }
  })
})

describe('generator feeding the origin', () => {
  it('publishes segments live: a reader gets a segment while it is produced, then the playlist', async () => {
    void generate()
    // Asked for before it exists: the origin waits for the upload, then streams it as it grows.
    const segment = await timedGet(`${origin.url}/live/segment-0.ts`)
    expect(segment.status).toBe(200)
    const body = Buffer.concat(segment.chunks.map((chunk) => chunk.data))
    expect(body.length % 188).toBe(0)
    expect(body[0]).toBe(0x47)
    expect(segment.chunks.length).toBeGreaterThan(3)
    // The segment takes ~1 s to produce; its first bytes came long before its last.
    const first = segment.chunks[0]?.at ?? 0
    const last = segment.chunks.at(-1)?.at ?? 0
    expect(last - first).toBeGreaterThan(500)
    await expect.poll(async () => (await fetch(`${origin.url}/live/stream.m3u8`)).status).toBe(200)
    const playlist = await (await fetch(`${origin.url}/live/stream.m3u8`)).text()
    expect(playlist).toMatch(
      /^#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PROGRAM-DATE-TIME:\d{4}-\d\d-\d\dT[\d:.]+Z\n#EXTINF:1\.06667,\nsegment-0\.ts\n/,
    )
    if (ffmpegMissing === undefined) {
      const decoded = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const ffmpeg = spawn('ffmpeg', [
          '-v',
          'error',
          '-f',
          'mpegts',
          '-i',
          'pipe:0',
          '-f',
          'null',
          '-',
        ])
        let stderr = ''
        ffmpeg.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
        ffmpeg.once('close', (code) => resolve({ code, stderr }))
        ffmpeg.stdin.end(body)
      })
      expect(decoded).toEqual({ code: 0, stderr: '' })
    }
  }, 60_000)
})

/** What the player page records in `window.playerState`. */
interface PlayerState {
  readonly errors: string[]
  readonly fragments: number
  readonly parts: number
  readonly latency: number
  readonly latencySource: string
  readonly mode: string
}

async function playFor(url: string) {
  const browser = await launchChromium()
  try {
    const page = await browser.newPage()
    const fetched: string[] = []
    page.on('response', (response) => {
      if (response.status() === 200) fetched.push(new URL(response.url()).pathname)
    })
    const pageErrors: string[] = []
    page.on('pageerror', (error) => pageErrors.push(error.message))
    await page.goto(url)
    // Page code runs in the browser: passed as text, as this file is type-checked without the DOM.
    await page.waitForFunction(
      'window.playerState.fragments >= 3 && document.querySelector("video").currentTime > 0.5',
      undefined,
      // Chromium, the feed and the player share two cores (four busy ones in CI's load runs).
      { timeout: 45_000, polling: 200 },
    )
    await page.waitForFunction('window.playerState.latency !== undefined', undefined, {
      timeout: 15_000,
      polling: 200,
    })
    const state = (await page.evaluate('window.playerState')) as PlayerState
    const shown = await page.textContent('#latency')
    return {
      fetched,
      pageErrors,
      errors: state.errors,
      state,
      shown,
      painted: await paintedShare(page),
    }
  } finally {
    await browser.close()
  }
}

/** The player loaded the live playlist again and again and at least 3 segments, without a fatal error. */
function expectPlayed(played: Awaited<ReturnType<typeof playFor>>, segment: RegExp) {
  expect(played.pageErrors).toEqual([])
  expect(played.errors.filter((error) => error.includes('fatal'))).toEqual([])
  const playlists = played.fetched.filter((path) => path === '/live/stream.m3u8')
  expect(playlists.length).toBeGreaterThanOrEqual(2)
  expect(played.fetched.filter((path) => segment.test(path)).length).toBeGreaterThanOrEqual(3)
  // The page shows the latency from the program date time, as a person reads it.
  expect(played.state.latencySource).toBe('program date time')
  expect(played.state.latency).toBeGreaterThan(0)
  expect(played.state.latency).toBeLessThan(20)
  expect(played.shown).toMatch(/^\d+\.\d s$/)
  expect(played.state.mode).toBe('standard HLS')
  // A picture of a playing video and the figures: not a blank page.
  expect(played.painted).toBeGreaterThan(0.01)
}

describe.skipIf(chromiumMissing !== undefined)('player in Chromium', () => {
  it('plays the generator feed: fetches the live playlist and segments, time advances', async () => {
    await publishPlayer(origin.url)
    void generate()
    expectPlayed(await playFor(`${origin.url}/player/index.html`), /^\/live\/segment-\d+\.ts$/)
  }, 90_000)

  it.skipIf(ffmpegMissing !== undefined)(
    'plays the ffmpeg feed (H.264 + AAC over HTTP PUT)',
    async () => {
      await publishPlayer(origin.url)
      const ffmpeg = startFfmpeg(origin.url)
      const exited = new Promise((resolve) => ffmpeg.once('exit', resolve))
      try {
        expectPlayed(await playFor(`${origin.url}/player/index.html`), /^\/live\/stream\d+\.ts$/)
      } finally {
        ffmpeg.kill('SIGKILL')
        await exited
      }
    },
    90_000,
  )
})
