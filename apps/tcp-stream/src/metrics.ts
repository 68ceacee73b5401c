import {
  type Counter,
  type Gauge,
  httpMetrics,
  Metrics,
  type RequestObserver,
} from '@sluice/internal/http'
import type { BackendPool } from './backend-pool.js'

/**
 * The gateway's counters (`tcp_stream_gateway_…`): HTTP requests and bytes, backends known and
 * healthy, streams by outcome and the bytes streamed to backends.
 */
export class GatewayMetrics {
  readonly #registry = new Metrics('tcp_stream_gateway')
  readonly requests: RequestObserver = httpMetrics(this.#registry)
  readonly #streams: Counter = this.#registry.counter(
    'streams_total',
    'POST /stream that ended, by outcome: acked, backend_failed, no_backend, client_gone.',
  )
  readonly #streamed: Counter = this.#registry.counter(
    'streamed_bytes_total',
    'Bytes streamed to backends and acknowledged by them.',
  )

  constructor(pool: BackendPool) {
    const count = (healthy: boolean | undefined) => () =>
      pool.status().backends.filter((backend) => healthy === undefined || backend.healthy).length
    this.#registry.gauge(
      'backends',
      'Backends known (static list or SRV records).',
      count(undefined),
    )
    this.#registry.gauge('healthy_backends', 'Backends whose last probe succeeded.', count(true))
  }

  countStream(outcome: 'acked' | 'backend_failed' | 'no_backend' | 'client_gone', bytes = 0): void {
    this.#streams.inc({ outcome })
    if (bytes > 0) this.#streamed.inc({}, bytes)
  }

  render(): string {
    return this.#registry.render()
  }
}

/**
 * The TCP service's counters (`tcp_stream_service_…`): open connections, frames by outcome, bytes
 * received in frames. Served over HTTP by the CLI's `--status-port`.
 */
export class ServiceMetrics {
  readonly #registry = new Metrics('tcp_stream_service')
  readonly connections: Gauge = this.#registry.gauge('connections', 'TCP connections open now.')
  readonly #frames: Counter = this.#registry.counter(
    'frames_total',
    'Frames that ended, by outcome: acked, refused (over the size limit), short (connection ended mid-frame).',
  )
  readonly #received: Counter = this.#registry.counter(
    'received_bytes_total',
    'Bytes of frames received and hashed.',
  )

  countFrame(outcome: 'acked' | 'refused' | 'short'): void {
    this.#frames.inc({ outcome })
  }

  countReceived(bytes: number): void {
    this.#received.inc({}, bytes)
  }

  render(): string {
    return this.#registry.render()
  }
}
