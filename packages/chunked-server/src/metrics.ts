import {
  type Counter,
  type Gauge,
  httpMetrics,
  Metrics,
  type RequestObserver,
} from '@sluice/internal/http'

/**
 * How a GET was answered. `waited`: it waited for its object to arrive first; `reload`: a
 * blocking playlist reload (`_HLS_msn`), answered with a version that held what it asked for.
 */
export type GetState = 'live' | 'finished' | 'waited' | 'missing' | 'reload'

/** Distinct key prefixes counted before the rest are counted together as `other`. */
const MAX_PREFIXES = 100

/**
 * The counters of an origin (`chunked_server_…`): HTTP requests and bytes, objects being uploaded,
 * live readers, GETs waiting for an object, GETs by state and by key prefix (the first path
 * segment: what an operator or a test reads to see how many origin fetches edges made), uploads
 * stored and aborted.
 */
export class ChunkedMetrics {
  readonly #registry = new Metrics('chunked_server')
  /** Counts each request: give it every request the handler answers. */
  readonly requests: RequestObserver = httpMetrics(this.#registry)
  readonly liveReaders: Gauge = this.#registry.gauge(
    'live_readers',
    'GETs streaming an object still being uploaded.',
  )
  readonly waiting: Gauge = this.#registry.gauge(
    'waiting_requests',
    'GETs waiting for an object to start arriving (wait-for-content).',
  )
  readonly heldReloads: Gauge = this.#registry.gauge(
    'held_reloads',
    'Blocking playlist reloads (_HLS_msn) waiting for the playlist to catch up.',
  )
  readonly #gets: Counter = this.#registry.counter(
    'gets_total',
    'GETs and HEADs of objects, by how they were answered (live, finished, waited, missing) and key prefix.',
  )
  readonly #uploads: Counter = this.#registry.counter(
    'uploads_total',
    'Uploads that ended, by outcome: stored, or the code of their failure.',
  )
  readonly #ingested: Counter = this.#registry.counter(
    'ingested_bytes_total',
    'Bytes of objects stored.',
  )
  readonly #prefixes = new Set<string>()

  constructor(liveObjects: () => number) {
    this.#registry.gauge('live_objects', 'Uploads in progress now.', liveObjects)
  }

  #prefix(key: string): string {
    const slash = key.indexOf('/', 1)
    const prefix = slash === -1 ? '/' : key.slice(0, slash)
    if (this.#prefixes.has(prefix)) return prefix
    if (this.#prefixes.size >= MAX_PREFIXES) return 'other'
    this.#prefixes.add(prefix)
    return prefix
  }

  countGet(key: string, state: GetState): void {
    this.#gets.inc({ state, prefix: this.#prefix(key) })
  }

  countUpload(outcome: string, bytes: number): void {
    this.#uploads.inc({ outcome })
    if (outcome === 'stored') this.#ingested.inc({}, bytes)
  }

  render(): string {
    return this.#registry.render()
  }
}
