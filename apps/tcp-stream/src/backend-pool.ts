import { streamRandomBytes } from './backend-stream.js'
import { type Backend, type BackendSource, resolveBackends } from './backends.js'

export interface BackendStatus {
  readonly address: string
  readonly healthy: boolean
  /** Why the last probe or stream failed, while unhealthy. */
  readonly reason?: string
}

export interface BackendPoolOptions {
  /** Time between two rounds of health probes (and SRV lookups), default 2 000 ms. */
  readonly intervalMs?: number
  /** Time a probe may take, default 1 000 ms. */
  readonly timeoutMs?: number
}

/**
 * The backends of a source with their health. Every round re-reads the source (SRV records
 * change as services come and go) and probes each backend with an empty frame, which must come
 * back acked with the SHA-256 of nothing. Streams go round-robin to the healthy ones; a backend
 * that refuses a connection is marked down at once, before the next round.
 */
export class BackendPool {
  readonly #source: BackendSource
  readonly #intervalMs: number
  readonly #timeoutMs: number
  #backends: Backend[] = []
  readonly #down = new Map<string, string>()
  #sourceError: string | undefined
  #next = 0
  #timer: NodeJS.Timeout | undefined
  #round: Promise<void> | undefined

  constructor(source: BackendSource, options: BackendPoolOptions = {}) {
    this.#source = source
    this.#intervalMs = options.intervalMs ?? 2_000
    this.#timeoutMs = options.timeoutMs ?? 1_000
  }

  /** Runs a first round, then one every interval until `stop()`. */
  start(): Promise<void> {
    const loop = () => {
      this.#timer = setTimeout(() => void this.refresh().finally(loop), this.#intervalMs)
      this.#timer.unref()
    }
    return this.refresh().finally(loop)
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** One round: re-read the source, probe every backend. Concurrent calls share the round. */
  refresh(): Promise<void> {
    this.#round ??= this.#probeAll().finally(() => {
      this.#round = undefined
    })
    return this.#round
  }

  async #probeAll(): Promise<void> {
    try {
      this.#backends = await resolveBackends(this.#source)
      this.#sourceError = undefined
    } catch (error) {
      // Keep probing the last known backends: a DNS hiccup is not an outage.
      this.#sourceError = `cannot resolve ${describe(this.#source)}: ${(error as Error).message}`
    }
    await Promise.all(
      this.#backends.map(async (backend) => {
        try {
          await streamRandomBytes(backend, 0, { timeoutMs: this.#timeoutMs })
          this.#down.delete(backend.address)
        } catch (error) {
          this.#down.set(backend.address, (error as Error).message)
        }
      }),
    )
  }

  /** The healthy backends, starting with the next one in round-robin order. */
  candidates(): Backend[] {
    const healthy = this.#backends.filter((backend) => !this.#down.has(backend.address))
    if (healthy.length === 0) return []
    const first = this.#next++ % healthy.length
    return [...healthy.slice(first), ...healthy.slice(0, first)]
  }

  markDown(backend: Backend, reason: string): void {
    this.#down.set(backend.address, reason)
  }

  status(): { backends: BackendStatus[]; sourceError?: string } {
    const backends = this.#backends.map((backend) => {
      const reason = this.#down.get(backend.address)
      return reason === undefined
        ? { address: backend.address, healthy: true }
        : { address: backend.address, healthy: false, reason }
    })
    return this.#sourceError === undefined
      ? { backends }
      : { backends, sourceError: this.#sourceError }
  }
}

function describe(source: BackendSource): string {
  return source.kind === 'srv' ? `SRV ${source.name}` : 'the backend list'
}
