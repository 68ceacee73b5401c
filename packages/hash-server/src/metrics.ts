/** Counters of one server process, rendered in the Prometheus text format. */
export class HashMetrics {
  /** Requests answered, by status code. */
  readonly requests: Map<number, number> = new Map()
  /** Errors (4xx/5xx answers and aborted requests), by error code. */
  readonly errors: Map<string, number> = new Map()
  bytesHashed = 0
  inFlight = 0

  countResponse(status: number): void {
    this.requests.set(status, (this.requests.get(status) ?? 0) + 1)
  }

  countError(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1)
  }

  render(): string {
    const lines = [
      '# HELP hash_server_requests_total Requests answered, by HTTP status.',
      '# TYPE hash_server_requests_total counter',
      ...[...this.requests].map(
        ([status, n]) => `hash_server_requests_total{status="${status}"} ${n}`,
      ),
      '# HELP hash_server_bytes_hashed_total Request body bytes hashed.',
      '# TYPE hash_server_bytes_hashed_total counter',
      `hash_server_bytes_hashed_total ${this.bytesHashed}`,
      '# HELP hash_server_requests_in_flight Requests being received or answered now.',
      '# TYPE hash_server_requests_in_flight gauge',
      `hash_server_requests_in_flight ${this.inFlight}`,
      '# HELP hash_server_errors_total Requests that failed, by error code.',
      '# TYPE hash_server_errors_total counter',
      ...[...this.errors].map(([code, n]) => `hash_server_errors_total{code="${code}"} ${n}`),
    ]
    return `${lines.join('\n')}\n`
  }
}
