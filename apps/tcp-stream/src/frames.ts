/**
 * The wire format between the gateway and the TCP services: a frame is an 8-byte little-endian
 * unsigned length followed by that many bytes. The client sends data frames; the service answers
 * each one with an ack frame whose bytes are JSON: `{"size":N,"sha256":"hex"}`, or
 * `{"error":"reason"}` just before it closes the connection.
 */
export const HEADER_BYTES = 8

/** The ack the service sends for every data frame it has read completely. */
export type Ack = { readonly size: number; readonly sha256: string } | { readonly error: string }

/** The 8-byte header announcing a frame of `size` bytes. */
export function frameHeader(size: number | bigint): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES)
  header.writeBigUInt64LE(BigInt(size))
  return header
}

/** A whole frame around a small payload (acks, health probes). */
export function smallFrame(payload: Buffer): Buffer {
  return Buffer.concat([frameHeader(payload.length), payload])
}

export interface FrameHandlers {
  /** A frame of `size` bytes starts; return false to refuse it (the parser stops). */
  start(size: bigint): boolean
  /** Some of the current frame's bytes, in order. */
  data(chunk: Buffer): void
  /** The current frame is complete. */
  end(): void
}

/**
 * Splits a byte stream into frames without holding them: headers may arrive in pieces, payloads
 * are passed through as slices of the incoming chunks.
 */
export class FrameParser {
  readonly #handlers: FrameHandlers
  readonly #header = Buffer.alloc(HEADER_BYTES)
  #headerFill = 0
  #remaining = -1n
  #stopped = false

  constructor(handlers: FrameHandlers) {
    this.#handlers = handlers
  }

  /** True while a frame's header or payload is partly read. */
  get inFrame(): boolean {
    return this.#headerFill > 0 || this.#remaining >= 0n
  }

  push(chunk: Buffer): void {
    let offset = 0
    while (!this.#stopped && offset < chunk.length) {
      if (this.#remaining < 0n) {
        const take = Math.min(HEADER_BYTES - this.#headerFill, chunk.length - offset)
        chunk.copy(this.#header, this.#headerFill, offset, offset + take)
        this.#headerFill += take
        offset += take
        if (this.#headerFill < HEADER_BYTES) return
        this.#headerFill = 0
        this.#remaining = this.#header.readBigUInt64LE()
        if (!this.#handlers.start(this.#remaining)) {
          this.#stopped = true
          return
        }
      } else {
        const take = Number(
          this.#remaining < BigInt(chunk.length - offset)
            ? this.#remaining
            : BigInt(chunk.length - offset),
        )
        if (take > 0) this.#handlers.data(chunk.subarray(offset, offset + take))
        offset += take
        this.#remaining -= BigInt(take)
      }
      if (this.#remaining === 0n) {
        this.#remaining = -1n
        this.#handlers.end()
      }
    }
  }
}
