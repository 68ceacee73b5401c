import {
  type Counter,
  type Gauge,
  httpMetrics,
  Metrics,
  type RequestObserver,
} from '@sluice/internal/http'

/**
 * The counters of an fstream server (`fstream_server_…`): HTTP requests and WebSocket sessions
 * (each session is one request, `status="101"`, counted when it ends, with the bytes it moved),
 * resources being appended to, followers, bytes appended and sent to followers, refused upgrades
 * by verb and status, ended sessions by verb and the close code the server sent.
 */
export class FstreamMetrics {
  readonly #registry = new Metrics('fstream_server')
  /** Counts each request and session: give it every one the server answers. */
  readonly requests: RequestObserver = httpMetrics(this.#registry)
  readonly followers: Gauge = this.#registry.gauge('followers', 'FOLLOW sessions open now.')
  readonly #sessions: Counter = this.#registry.counter(
    'sessions_total',
    'WebSocket sessions that ended, by verb and the close code the server sent (1006: none, the connection was dropped).',
  )
  readonly #refusals: Counter = this.#registry.counter(
    'refusals_total',
    'Session requests refused with an HTTP answer, by verb and status.',
  )
  readonly #appended: Counter = this.#registry.counter(
    'appended_bytes_total',
    'Bytes appended to resources (written to storage).',
  )
  readonly #followed: Counter = this.#registry.counter(
    'followed_bytes_total',
    'Bytes of resources handed to followers.',
  )

  constructor(appending: () => number) {
    this.#registry.gauge('appending_resources', 'Resources with an appender now.', appending)
  }

  countSession(verb: string, closeCode: number): void {
    this.#sessions.inc({ verb, code: closeCode })
  }

  countRefusal(verb: string, status: number): void {
    this.#refusals.inc({ verb, status })
  }

  countAppended(bytes: number): void {
    this.#appended.inc({}, bytes)
  }

  countFollowed(bytes: number): void {
    this.#followed.inc({}, bytes)
  }

  render(): string {
    return this.#registry.render()
  }
}
