/** A resource's URL, or the same resource through several servers (tried in turn). */
export type ResourceUrl = string | URL | readonly (string | URL)[]

/**
 * The URLs of one resource, the one in use first: a client moves to the next one when the
 * server it uses cannot be reached or breaks the session (servers sharing a NATS JetStream
 * storage serve the same resources).
 */
export class ResourceUrls {
  readonly #urls: readonly (string | URL)[]
  #current = 0

  constructor(url: ResourceUrl) {
    this.#urls = typeof url === 'string' || url instanceof URL ? [url] : [...url]
    if (this.#urls.length === 0) throw new TypeError('no URL of the resource')
  }

  /** The URL in use. */
  get current(): string | URL {
    return this.#urls[this.#current] as string | URL
  }

  get count(): number {
    return this.#urls.length
  }

  /** Moves to the next URL, after the last back to the first. */
  next(): void {
    this.#current = (this.#current + 1) % this.#urls.length
  }
}
