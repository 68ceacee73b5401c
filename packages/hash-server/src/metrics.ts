import {
  clusterSnapshots,
  httpMetrics,
  Metrics,
  type MetricsSnapshot,
  type RequestObserver,
  renderMetrics,
} from '@sluice/internal/http'

/**
 * The counters of a hash server (`hash_server_…`): requests by method and status, requests in
 * flight, bytes received and sent, bytes hashed, failures by error code. With `--workers`, a
 * scrape sums every worker's.
 */
export class HashMetrics {
  readonly #registry = new Metrics('hash_server')
  /** Counts each request: give it every request the handler answers. */
  readonly requests: RequestObserver = httpMetrics(this.#registry)
  readonly #errors = this.#registry.counter('errors_total', 'Requests that failed, by error code.')
  readonly #hashed = this.#registry.counter('hashed_bytes_total', 'Request body bytes hashed.')
  readonly #whole: () => Promise<MetricsSnapshot> = clusterSnapshots(() =>
    this.#registry.snapshot(),
  )

  countError(code: string): void {
    this.#errors.inc({ code })
  }

  countHashed(bytes: number): void {
    this.#hashed.inc({}, bytes)
  }

  /** This process's figures, in the Prometheus text format. */
  render(): string {
    return this.#registry.render()
  }

  /** The whole server's figures (every worker's, added up), in the Prometheus text format. */
  async renderAll(): Promise<string> {
    return renderMetrics(await this.#whole())
  }
}
