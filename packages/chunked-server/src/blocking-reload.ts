import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { serveRepresentation, whenClientLeaves } from '@sluice/internal/http'
import { BadReloadError, ObjectNotFoundError, ReloadUnavailableError } from './errors.js'
import type { ChunkedMetrics } from './metrics.js'
import type { Origin, PlaylistVersion } from './origin.js'
import {
  deltaUpdate,
  type PlaylistDirectives,
  type PlaylistPosition,
  playlistPosition,
  type ReloadRequest,
  reloadVerdict,
} from './playlist.js'
import { answerOptions } from './storage.js'

/** How long a reload is held when the playlist has no target duration, seconds. */
const DEFAULT_TARGET_DURATION = 6

/** What a reload asks for, in its own words. */
const asked = (want: ReloadRequest) =>
  `_HLS_msn=${want.msn}${want.part === undefined ? '' : ` _HLS_part=${want.part}`}`

// What a stored version says, worked out once however many players ask for it (each version is
// its own object, replaced by the playlist's next PUT).
const positions = new WeakMap<PlaylistVersion, PlaylistPosition>()
const deltas = new WeakMap<PlaylistVersion, Buffer | null>()

function positionOf(version: PlaylistVersion): PlaylistPosition {
  let position = positions.get(version)
  if (position === undefined) {
    position = playlistPosition(version.text.toString('latin1'))
    positions.set(version, position)
  }
  return position
}

/** The version's delta update, or undefined when it has none. */
function deltaOf(version: PlaylistVersion): Buffer | undefined {
  let delta = deltas.get(version)
  if (delta === undefined) {
    const text = deltaUpdate(version.text.toString('latin1'))
    delta = text === undefined ? null : Buffer.from(text, 'latin1')
    deltas.set(version, delta)
  }
  return delta ?? undefined
}

/** Answers with `version`, or with its delta update when `skip` asks for one and it has one. */
function answerWith(
  req: IncomingMessage,
  res: ServerResponse,
  version: PlaylistVersion,
  skip: boolean,
) {
  const { meta, storedAt } = version
  const delta = skip ? deltaOf(version) : undefined
  const text = delta ?? version.text
  return serveRepresentation(req, res, {
    ...answerOptions(meta),
    size: text.length,
    // The delta is another representation of the same version: its own validator.
    etag: delta === undefined ? meta.etag : `${meta.etag.slice(0, -1)}-delta"`,
    lastModified: storedAt,
    open: (start, end) => Readable.from([text.subarray(start, end + 1)]),
  })
}

/**
 * A playlist GET with delivery directives (RFC 8216bis §6.2.5). A blocking playlist reload
 * (`_HLS_msn`, `_HLS_part`) answers with the first stored version of the playlist at `key` that
 * holds segment `want.msn` (part `want.part` of it), waiting for the playlist's next PUT as often
 * as needed — events, never polling: `400` when what is asked is more than two segments (three
 * parts) ahead of the playlist, `503` when no version brings it within three target durations or
 * the server shuts down, `404` when the playlist is deleted meanwhile. `_HLS_skip` answers with the
 * delta update of that version (or of the current one) where the playlist offers them
 * (`CAN-SKIP-UNTIL`), else with the whole playlist. `directives` may be the reason the request's
 * `_HLS_*` parameters are bad: `400`, for a playlist. Returns false, answering nothing, when there
 * is no such playlist (the caller answers as for any object, whose query means nothing).
 */
export async function blockingReload(
  origin: Origin,
  req: IncomingMessage,
  res: ServerResponse,
  key: string,
  directives: PlaylistDirectives | string,
  metrics: ChunkedMetrics,
): Promise<boolean> {
  let generation = origin.playlistGeneration(key)
  let version = await origin.playlistVersion(key)
  if (version === undefined) return false
  if (typeof directives === 'string') throw new BadReloadError(directives)
  const want = directives.reload
  if (want === undefined) {
    metrics.countGet(key, 'finished')
    await answerWith(req, res, version, directives.skip)
    return true
  }
  const position = positionOf(version)
  const first = reloadVerdict(position, want)
  if (first === 'too-far') {
    throw new BadReloadError(
      `${asked(want)} is too far ahead of the playlist (last segment ${position.lastSegment})`,
    )
  }
  const target = position.targetDuration > 0 ? position.targetDuration : DEFAULT_TARGET_DURATION
  const deadline = Date.now() + 3 * target * 1000
  const gone = new AbortController()
  const stopWatching = whenClientLeaves(req, res, () => gone.abort())
  metrics.heldReloads.inc()
  try {
    let verdict: 'ready' | 'wait' | 'too-far' = first
    while (verdict === 'wait') {
      const outcome = await origin.playlistChangedSince(key, generation, {
        timeoutMs: Math.max(0, deadline - Date.now()),
        signal: gone.signal,
      })
      if (outcome === 'aborted') return true
      if (outcome === 'timeout') {
        throw new ReloadUnavailableError(
          `no version of ${key} brought ${asked(want)} within ${3 * target} s`,
        )
      }
      if (origin.closing) throw new ReloadUnavailableError('the server is shutting down')
      generation = origin.playlistGeneration(key)
      version = await origin.playlistVersion(key)
      if (version === undefined) throw new ObjectNotFoundError(key)
      verdict = reloadVerdict(positionOf(version), want)
    }
  } finally {
    metrics.heldReloads.dec()
    stopWatching()
  }
  metrics.countGet(key, 'reload')
  await answerWith(req, res, version, directives.skip)
  return true
}
