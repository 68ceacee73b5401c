import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import {
  chromiumPath,
  launchChromium,
  missingTool,
  missingVarnish,
  paintedShare,
  scrapeMetrics,
  startVarnish,
} from '@sluice/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { originForEachTest } from '../test/origin.js'
import { type Feed, MODES, type Mode, startFeed } from './feeds.js'
import { startFfmpegFmp4 } from './ffmpeg.js'
import { fragmentInfo, trackDefaults } from './fmp4.js'
import { runGenerator } from './generator.js'
import { publishPlayer } from './origin.js'
import { runLlHlsPackager } from './packager.js'

const chromiumMissing = missingTool(chromiumPath)
const ffmpegMissing = missingTool('ffmpeg', ['-version'])
const varnishMissing = missingVarnish()
const VCL = fileURLToPath(new URL('../../../deploy/varnish/chunked-edge.vcl', import.meta.url))

const origin = originForEachTest()
const running: Feed[] = []
afterEach(async () => {
  for (const feed of running.splice(0)) await feed.stop()
})

interface ParsedPart {
  readonly number: number
  readonly duration: number
  readonly independent: boolean
}

interface ParsedSegment {
  readonly msn: number
  readonly uri: string | undefined
  readonly duration: number | undefined
  readonly programDate: string | undefined
  readonly parts: ParsedPart[]
}

/** Reads an LL-HLS media playlist as a checker needs it (not a general parser). */
function parsePlaylist(text: string) {
  const lines = text.trim().split('\n')
  const tag = (name: string) =>
    lines.find((line) => line.startsWith(`#${name}:`))?.slice(name.length + 2)
  const attribute = (line: string, name: string) =>
    new RegExp(`(?:^|,)${name}=("([^"]*)"|[^,]*)`).exec(line)?.[2] ??
    new RegExp(`(?:^|,)${name}=([^,]*)`).exec(line)?.[1]
  const partTarget = Number(attribute(tag('EXT-X-PART-INF') ?? '', 'PART-TARGET'))
  const holdBack = Number(attribute(tag('EXT-X-SERVER-CONTROL') ?? '', 'PART-HOLD-BACK'))
  let msn = Number(tag('EXT-X-MEDIA-SEQUENCE'))
  const segments: ParsedSegment[] = []
  let current: { programDate?: string; parts: ParsedPart[]; duration?: number } = { parts: [] }
  for (const line of lines) {
    if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) current.programDate = line.slice(25)
    else if (line.startsWith('#EXT-X-PART:')) {
      current.parts.push({
        number: Number(/part(\d+)\./.exec(attribute(line.slice(12), 'URI') ?? '')?.[1]),
        duration: Number(attribute(line.slice(12), 'DURATION')),
        independent: attribute(line.slice(12), 'INDEPENDENT') === 'YES',
      })
    } else if (line.startsWith('#EXTINF:')) current.duration = Number.parseFloat(line.slice(8))
    else if (!line.startsWith('#')) {
      segments.push({
        msn: msn++,
        uri: line,
        duration: current.duration,
        programDate: current.programDate,
        parts: current.parts,
      })
      current = { parts: [] }
    }
  }
  if (current.parts.length > 0) {
    segments.push({
      msn,
      uri: undefined,
      duration: undefined,
      ...current,
      programDate: current.programDate,
    })
  }
  const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part(\d+)\./.exec(text)?.[1]
  return {
    partTarget,
    holdBack,
    targetDuration: Number(tag('EXT-X-TARGETDURATION')),
    canBlock: (tag('EXT-X-SERVER-CONTROL') ?? '').includes('CAN-BLOCK-RELOAD=YES'),
    canSkipUntil: Number(attribute(tag('EXT-X-SERVER-CONTROL') ?? '', 'CAN-SKIP-UNTIL')),
    segments,
    parts: segments.flatMap((segment) => segment.parts),
    hint: hint === undefined ? undefined : Number(hint),
  }
}

/**
 * The rules of RFC 8216bis an LL-HLS packager must keep, checked on every playlist it published:
 * what each says on its own, and how each follows the one before.
 */
function checkPlaylists(texts: readonly string[], partsPerSegment: number) {
  expect(texts.length).toBeGreaterThan(partsPerSegment)
  let previous: ReturnType<typeof parsePlaylist> | undefined
  for (const text of texts) {
    const playlist = parsePlaylist(text)
    expect(playlist.canBlock).toBe(true)
    // Delta updates skip nothing newer than six target durations.
    expect(playlist.canSkipUntil).toBeGreaterThanOrEqual(6 * playlist.targetDuration)
    expect(playlist.holdBack).toBeGreaterThanOrEqual(3 * playlist.partTarget - 1e-9)
    for (const part of playlist.parts)
      expect(part.duration).toBeLessThanOrEqual(playlist.partTarget)
    for (const segment of playlist.segments) {
      expect(segment.programDate, text).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/)
      if (segment.duration !== undefined) {
        expect(Math.round(segment.duration)).toBeLessThanOrEqual(playlist.targetDuration)
        if (segment.parts.length > 0) {
          const sum = segment.parts.reduce((total, part) => total + part.duration, 0)
          expect(Math.abs(sum - segment.duration)).toBeLessThan(0.001)
          expect(segment.parts).toHaveLength(partsPerSegment)
        }
      }
      // A segment starts with a part that decodes alone.
      if (segment.parts.length > 0) expect(segment.parts[0]?.independent).toBe(true)
    }
    // Parts are numbered without a gap, and the hint is always the next one.
    const numbers = playlist.parts.map((part) => part.number)
    expect(numbers).toEqual(numbers.map((_, i) => (numbers[0] ?? 0) + i))
    expect(playlist.hint).toBe((numbers.at(-1) ?? -1) + 1)
    // Media sequences run on without a gap.
    const msns = playlist.segments.map((segment) => segment.msn)
    expect(msns).toEqual(msns.map((_, i) => (msns[0] ?? 0) + i))
    if (previous !== undefined) {
      // One part more each time: nothing skipped, nothing repeated.
      expect(playlist.hint).toBe((previous.hint ?? 0) + 1)
      expect(playlist.segments[0]?.msn).toBeGreaterThanOrEqual(previous.segments[0]?.msn ?? 0)
    }
    previous = playlist
  }
  return previous
}

const fetchBytes = async (path: string) =>
  Buffer.from(await (await fetch(`${origin.url}${path}`)).arrayBuffer())

function decodeWithFfmpeg(
  input: Buffer,
  format: string,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const ffmpeg = spawn('ffmpeg', ['-v', 'error', '-f', format, '-i', 'pipe:0', '-f', 'null', '-'])
    let stderr = ''
    ffmpeg.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    ffmpeg.stdin.on('error', () => {})
    ffmpeg.once('close', (code) => resolve({ code, stderr }))
    ffmpeg.stdin.end(input)
  })
}

describe.skipIf(ffmpegMissing !== undefined)('LL-HLS packager fed by ffmpeg', () => {
  it('keeps the playlist rules for 60 s, marks key frames INDEPENDENT, and every segment decodes', {
    timeout: 180_000,
  }, async () => {
    const playlists: string[] = []
    const ffmpeg = startFfmpegFmp4()
    const packaging = runLlHlsPackager(origin.url, ffmpeg.stdout, {
      onPlaylist: (text) => playlists.push(text),
    })
    packaging.catch(() => {})
    try {
      await new Promise((resolve) => setTimeout(resolve, 60_000))
    } finally {
      ffmpeg.kill('SIGTERM')
      await packaging.catch(() => {})
    }
    const last = checkPlaylists(playlists, 5)
    // About five parts a second for a minute, give or take the encoder's start.
    expect(playlists.length).toBeGreaterThan(250)
    const init = await fetchBytes('/live/ll/init.mp4')
    const defaults = trackDefaults(init.subarray(init.readUInt32BE(0)))
    for (const segment of last?.segments ?? []) {
      if (segment.uri !== undefined) {
        const decoded = await decodeWithFfmpeg(
          Buffer.concat([init, await fetchBytes(`/live/ll/${segment.uri}`)]),
          'mp4',
        )
        expect(decoded, segment.uri).toEqual({ code: 0, stderr: '' })
      }
      // What the playlist says of a part is what the part's media says.
      for (const part of segment.parts) {
        const bytes = await fetchBytes(`/live/ll/part${part.number}.m4s`)
        const info = fragmentInfo(bytes.subarray(0, bytes.readUInt32BE(0)), defaults)
        expect(info.independent).toBe(part.independent)
        expect(info.duration).toBeCloseTo(part.duration, 4)
      }
    }
    // Parts and segments that left the window are deleted from the origin.
    expect((await fetch(`${origin.url}/live/ll/part0.m4s`)).status).toBe(404)
    expect((await fetch(`${origin.url}/live/ll/seg0.m4s`)).status).toBe(404)
  })

  it('is played by a player without LL support (ffmpeg reads the whole segments)', {
    timeout: 60_000,
  }, async () => {
    running.push(startFeed(origin.url, 'll'))
    await expect
      .poll(async () => (await fetch(`${origin.url}${MODES.ll.manifest}`)).status, {
        timeout: 10_000,
      })
      .toBe(200)
    const played = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const ffmpeg = spawn('ffmpeg', [
        ...['-v', 'error', '-i', `${origin.url}${MODES.ll.manifest}`],
        ...['-t', '3', '-f', 'null', '-'],
      ])
      let stderr = ''
      ffmpeg.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
      ffmpeg.once('close', (code) => resolve({ code, stderr }))
    })
    expect(played).toEqual({ code: 0, stderr: '' })
  })
})

describe('LL-HLS from the built-in generator', () => {
  it('keeps the playlist rules with MPEG-TS parts, each decodable', {
    timeout: 90_000,
  }, async () => {
    const playlists: string[] = []
    const feed = new AbortController()
    const generating = runGenerator(origin.url, {
      lowLatency: true,
      signal: feed.signal,
      onPlaylist: (text) => playlists.push(text),
    })
    generating.catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    feed.abort()
    await generating.catch(() => {})
    const last = checkPlaylists(playlists, 5)
    if (ffmpegMissing === undefined) {
      for (const part of last?.parts ?? []) {
        const decoded = await decodeWithFfmpeg(
          await fetchBytes(`/live/ll/part${part.number}.ts`),
          'mpegts',
        )
        expect(decoded).toEqual({ code: 0, stderr: '' })
      }
    }
  })
})

type Page = Parameters<typeof paintedShare>[0]

/**
 * Plays `mode` (fed by ffmpeg, or by the built-in generator) in Chromium until `until` holds of
 * the page's state (and, with `deltas`, until that many playlist delta updates were loaded), then
 * does `act` with the page if given; returns the state after that.
 */
async function play(
  mode: Mode,
  until: string,
  {
    generator = false,
    deltas = 0,
    act,
  }: { generator?: boolean; deltas?: number; act?: (page: Page) => Promise<void> } = {},
) {
  await publishPlayer(origin.url)
  running.push(startFeed(origin.url, mode, generator))
  const browser = await launchChromium()
  try {
    const page = await browser.newPage()
    const pageErrors: string[] = []
    page.on('pageerror', (error) => pageErrors.push(error.message))
    let deltasLoaded = 0
    page.on('response', (response) => {
      if (!response.url().includes('_HLS_skip=')) return
      response.text().then(
        (text) => {
          if (text.includes('#EXT-X-SKIP:SKIPPED-SEGMENTS=')) deltasLoaded++
        },
        // A body the browser no longer holds (a reload the player gave up) counts as none.
        () => {},
      )
    })
    await page.goto(`${origin.url}${MODES[mode].page}`)
    await waitForPlayer(page, until, 45_000, pageErrors)
    await expect.poll(() => deltasLoaded, { timeout: 30_000 }).toBeGreaterThanOrEqual(deltas)
    await act?.(page)
    // Let the player settle at its distance from live, then read it as a person would.
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    const state = (await page.evaluate(
      'Object.assign({ time: document.querySelector("video").currentTime }, window.playerState)',
    )) as {
      errors: string[]
      parts: number
      rejoins: number
      latency: number
      mode: string
      time: number
    }
    return { state, pageErrors, painted: await paintedShare(page) }
  } finally {
    await browser.close()
  }
}

/**
 * Waits until `until` (page code, passed as text: this file is type-checked without the DOM)
 * holds of the page. Chromium, ffmpeg and the players share two cores (four busy ones in CI's
 * load runs): bounds are generous, and a timeout says what the page saw.
 */
async function waitForPlayer(
  page: Page,
  until: string,
  timeout: number,
  pageErrors: string[] = [],
) {
  await page
    .waitForFunction(until, undefined, { timeout, polling: 250 })
    .catch(async (error: Error) => {
      const seen = await page.evaluate('JSON.stringify(window.playerState)').catch(() => '?')
      throw new Error(
        `${error.message}; player state: ${seen}; page errors: ${JSON.stringify(pageErrors)}`,
        { cause: error },
      )
    })
}

/** hls.js played LL-HLS: no page error, no fatal player error, playback advanced, under 3 s. */
function expectLlHlsPlayed(played: Awaited<ReturnType<typeof play>>) {
  // The whole state in every message: a failure on a loaded CI machine says what the page saw.
  const seen = JSON.stringify(played.state)
  expect(played.pageErrors, seen).toEqual([])
  expect(
    played.state.errors.filter((error) => error.includes('fatal')),
    seen,
  ).toEqual([])
  expect(played.state.mode, seen).toBe('LL-HLS')
  expect(played.state.time, seen).toBeGreaterThan(1)
  expect(played.state.latency, seen).toBeGreaterThan(0)
  expect(played.state.latency, seen).toBeLessThan(3)
}

describe.skipIf(chromiumMissing !== undefined || ffmpegMissing !== undefined)(
  'players in Chromium',
  () => {
    it('hls.js plays LL-HLS: parts are loaded, playback advances, latency well under 3 s', {
      timeout: 90_000,
    }, async () => {
      // The playlist offers delta updates (CAN-SKIP-UNTIL): hls.js asks for them once the window
      // holds more than six segments, and merges what the origin sends into what it has.
      const played = await play(
        'll',
        'window.playerState.parts >= 10 && window.playerState.latency !== undefined',
        { deltas: 3 },
      )
      expectLlHlsPlayed(played)
      expect(played.painted, JSON.stringify(played.state)).toBeGreaterThan(0.01)
    })

    it('dash.js plays LL-DASH from segments read while they are encoded, latency under 3 s', {
      timeout: 90_000,
    }, async () => {
      const played = await play(
        'dash',
        'window.playerState.fragments >= 3 && window.playerState.latency !== undefined',
      )
      expect(played.pageErrors).toEqual([])
      expect(played.state.errors).toEqual([])
      expect(played.state.time).toBeGreaterThan(1)
      expect(played.state.latency).toBeGreaterThan(0)
      expect(played.state.latency).toBeLessThan(3)
      expect(played.painted).toBeGreaterThan(0.01)
    })
  },
)

describe.skipIf(chromiumMissing !== undefined)('the generator in Chromium (no ffmpeg)', () => {
  it('hls.js plays its LL-HLS audio parts: parts are loaded, playback advances, latency under 3 s', {
    timeout: 90_000,
  }, async () => {
    const played = await play(
      'll',
      'window.playerState.parts >= 10 && window.playerState.latency !== undefined',
      { generator: true },
    )
    expectLlHlsPlayed(played)
  })

  it('hls.js jumps back to live after falling further behind than it catches up by speed', {
    timeout: 120_000,
  }, async () => {
    const played = await play(
      'll',
      'window.playerState.parts >= 10 && window.playerState.latency !== undefined',
      {
        generator: true,
        // A pause stands for a long stall: 8 s behind, where playing at 1.5x no longer applies.
        act: async (page) => {
          const before = (await page.evaluate('window.playerState.rejoins')) as number
          await page.evaluate('document.querySelector("video").pause()')
          await page.evaluate('new Promise((resolve) => setTimeout(resolve, 8000))')
          await page.evaluate('document.querySelector("video").play()')
          await waitForPlayer(
            page,
            `window.playerState.rejoins > ${before} && window.playerState.edgeLatency < 3`,
            30_000,
          )
        },
      },
    )
    expectLlHlsPlayed(played)
  })
})

describe.skipIf(
  chromiumMissing !== undefined || ffmpegMissing !== undefined || varnishMissing !== undefined,
)('LL-HLS through a Varnish edge', () => {
  it('plays in hls.js through the edge, which coalesces the players’ blocking reloads', {
    timeout: 150_000,
  }, async () => {
    await publishPlayer(origin.url)
    running.push(startFeed(origin.url, 'll'))
    const port = new URL(origin.url).port
    const vcl = (await readFile(VCL, 'utf8')).replace('.port = "9094";', `.port = "${port}";`)
    const edge = await startVarnish(vcl)
    await expect
      .poll(async () => [...(await edge.backendHealth()).values()], { timeout: 15_000 })
      .toEqual(['healthy'])
    const browser = await launchChromium()
    try {
      let blocking = 0
      const players = await Promise.all(
        [0, 1].map(async () => {
          const page = await browser.newPage()
          page.on('request', (request) => {
            if (request.url().includes('_HLS_msn=')) blocking++
          })
          await page.goto(`${edge.url}${MODES.ll.page}`)
          return page
        }),
      )
      // Latency under 5 s, waited for: loose, and a player that fell behind on a loaded machine
      // (two players, ffmpeg, the edge and the rest of the suite share two cores) catches up, or
      // jumps back to live when it is too far behind to catch up (the test above).
      for (const page of players) {
        await waitForPlayer(
          page,
          'window.playerState.parts >= 25 && window.playerState.latency < 5',
          60_000,
        )
      }
      const states = (await Promise.all(
        players.map((page) => page.evaluate('window.playerState')),
      )) as Array<{ errors: string[]; latency: number; mode: string }>
      for (const state of states) {
        expect(state.mode).toBe('LL-HLS')
        expect(state.errors.filter((error) => error.includes('fatal'))).toEqual([])
      }
      const metrics = await scrapeMetrics(`${origin.url}/metrics`)
      const atOrigin = metrics.get('chunked_server_gets_total{state="reload",prefix="/live"}') ?? 0
      // Two players asking for the same parts: the edge sends most of their reloads once.
      expect(blocking).toBeGreaterThanOrEqual(10)
      expect(atOrigin).toBeGreaterThan(0)
      expect(atOrigin).toBeLessThan(blocking * 0.75)
    } finally {
      await browser.close()
    }
  })
})
