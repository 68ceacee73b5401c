import type { LiveBytes } from './live-bytes.js'

/** Where the bytes of a live object are stored, readable at any position. */
export interface StoredBytes {
  /** 1 to `length` bytes at `position` (none only past the end of what is stored). */
  read(position: number, length: number): Promise<Buffer>
}

export interface ReadLiveOptions {
  /** Where to start (default 0). */
  readonly start?: number
  /** Largest chunk read and yielded at once (default 64 KiB). */
  readonly chunkSize?: number
  /** Stops reading (the generator returns) when it aborts. */
  readonly signal?: AbortSignal
}

/**
 * The bytes of `live` from `start`: everything stored so far, then each chunk as it lands, until
 * the bytes are complete (it returns) or aborted (it throws their failure). The newest bytes come
 * from memory, older ones from `stored`, at the reader's own position: a slow reader holds one
 * chunk and never loses a byte. It waits on events, never polls. The consumer applies its
 * transport's backpressure between two chunks (a WebSocket's send callback, a response's 'drain').
 */
export async function* readLive(
  live: LiveBytes,
  stored: StoredBytes,
  options: ReadLiveOptions = {},
): AsyncGenerator<Buffer, void, undefined> {
  const chunkSize = options.chunkSize ?? 64 * 1024
  const { signal } = options
  let position = options.start ?? 0
  // Once per reader, not per wait: listeners on an AbortSignal are not cheap.
  const stop = () => live.wake()
  signal?.addEventListener('abort', stop, { once: true })
  try {
    while (!signal?.aborted) {
      if (position < live.size) {
        const length = Math.min(chunkSize, live.size - position)
        const bytes = live.recent(position, length) ?? (await stored.read(position, length))
        if (bytes.length === 0) throw new Error('the stored bytes are shorter than announced')
        position += bytes.length
        yield bytes
        continue
      }
      if (live.state === 'complete') return
      if (live.state === 'aborted') throw live.failure ?? new Error('aborted')
      await live.changed()
    }
  } finally {
    signal?.removeEventListener('abort', stop)
  }
}
