import { createHash, randomFillSync } from 'node:crypto'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import type { Backend } from './backends.js'
import { type Ack, FrameParser, frameHeader } from './frames.js'

/** A backend failed; `connected` says whether any byte may have reached it. */
export class BackendError extends Error {
  readonly connected: boolean
  constructor(message: string, connected: boolean, options?: ErrorOptions) {
    super(message, options)
    this.name = 'BackendError'
    this.connected = connected
  }
}

export interface StreamOptions {
  readonly signal?: AbortSignal
  /** Time allowed to connect and, separately, between two events of the exchange (default 5 s). */
  readonly timeoutMs?: number
}

export interface StreamResult {
  readonly size: number
  /** SHA-256 of the bytes sent, hex; the backend's ack carried the same value. */
  readonly sha256: string
}

const CHUNK_BYTES = 64 * 1024
/** Buffers in flight per stream: 1 MiB queued on the socket at most. */
const BUFFERS = 16
const MAX_ACK_BYTES = 4 * 1024

/**
 * Streams `size` random bytes, generated as they are sent, to `backend` as one frame and resolves
 * once the backend's ack confirms both the size and the SHA-256 we computed on the way. Memory is
 * constant whatever `size` is: 1 MiB of buffers, reused. With size 0 it is the health probe.
 */
export async function streamRandomBytes(
  backend: Backend,
  size: number,
  options: StreamOptions = {},
): Promise<StreamResult> {
  const timeoutMs = options.timeoutMs ?? 5_000
  const socket = await connectTo(backend, timeoutMs, options.signal)
  const stop = new AbortController()
  const onAbort = () => stop.abort(options.signal?.reason)
  options.signal?.addEventListener('abort', onAbort, { once: true })
  socket.setTimeout(timeoutMs, () =>
    socket.destroy(new BackendError(`${backend.address} silent for ${timeoutMs} ms`, true)),
  )
  const ack = readAck(socket, backend)
  // The ack (or a failure) ends the exchange early: stop generating bytes nobody will count.
  ack.then(
    () => stop.abort(),
    (error: unknown) => stop.abort(error),
  )
  try {
    const sha256 = await sendFrame(socket, size, stop.signal).catch(async (error: unknown) => {
      if (options.signal?.aborted) throw error
      // The write stopped because the backend answered or went away: its answer says more.
      const early = await ack
      if ('error' in early) {
        throw new BackendError(`${backend.address} refused the stream: ${early.error}`, true)
      }
      throw new BackendError(`${backend.address} acked before the end of the frame`, true)
    })
    const answer = await ack
    if ('error' in answer) {
      throw new BackendError(`${backend.address} refused the stream: ${answer.error}`, true)
    }
    if (answer.size !== size || answer.sha256 !== sha256) {
      throw new BackendError(
        `${backend.address} acked ${answer.size} bytes with sha256 ${answer.sha256}; ` +
          `sent ${size} bytes with sha256 ${sha256}`,
        true,
      )
    }
    return { size, sha256 }
  } catch (error) {
    if (error instanceof BackendError || options.signal?.aborted) throw error
    throw new BackendError(`${backend.address}: ${(error as Error).message}`, true, {
      cause: error,
    })
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
    socket.destroy()
  }
}

async function connectTo(backend: Backend, timeoutMs: number, signal?: AbortSignal) {
  signal?.throwIfAborted()
  const socket = connect({ host: backend.host, port: backend.port, noDelay: true })
  const timer = setTimeout(
    () => socket.destroy(new Error(`no connection within ${timeoutMs} ms`)),
    timeoutMs,
  )
  try {
    await once(socket, 'connect', signal ? { signal } : {})
    return socket
  } catch (error) {
    socket.destroy()
    if (signal?.aborted) throw error
    throw new BackendError(`${backend.address}: ${(error as Error).message}`, false, {
      cause: error,
    })
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Writes the frame; resolves with the SHA-256 of the payload once it is all handed to the socket.
 * The bytes are generated into a fixed set of buffers, each reused once the socket has written it:
 * memory stays the same at any size and on any runtime, whatever the garbage collector does.
 */
async function sendFrame(socket: Socket, size: number, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256')
  socket.write(frameHeader(size))
  const free = Array.from({ length: BUFFERS }, () => Buffer.allocUnsafeSlow(CHUNK_BYTES))
  let returned: (() => void) | undefined
  let left = size
  while (left > 0) {
    signal.throwIfAborted()
    const buffer = free.pop()
    if (buffer === undefined) {
      await bufferReturned(signal, (wake) => {
        returned = wake
      })
      continue
    }
    const chunk = randomFillSync(buffer.subarray(0, Math.min(left, CHUNK_BYTES)))
    hash.update(chunk)
    left -= chunk.length
    socket.write(chunk, (error) => {
      if (error) return
      free.push(buffer)
      returned?.()
    })
  }
  return hash.digest('hex')
}

/** Resolves when `register`'s callback is called, rejects if `signal` aborts first. */
function bufferReturned(signal: AbortSignal, register: (wake: () => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    register(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    })
  })
}

function readAck(socket: Socket, backend: Backend): Promise<Ack> {
  return new Promise<Ack>((resolve, reject) => {
    const parts: Buffer[] = []
    let length = 0
    const parser = new FrameParser({
      start(size) {
        if (size > BigInt(MAX_ACK_BYTES)) {
          reject(new BackendError(`${backend.address} sent an ack of ${size} bytes`, true))
          return false
        }
        return true
      },
      data(chunk) {
        parts.push(chunk)
        length += chunk.length
      },
      end() {
        try {
          resolve(JSON.parse(Buffer.concat(parts, length).toString('utf8')) as Ack)
        } catch (error) {
          reject(
            new BackendError(`${backend.address} sent an ack that is not JSON`, true, {
              cause: error,
            }),
          )
        }
      },
    })
    socket.on('data', (chunk: Buffer) => parser.push(chunk))
    socket.once('error', (error) => reject(error))
    socket.once('close', () =>
      reject(new BackendError(`${backend.address} closed the connection before its ack`, true)),
    )
  })
}
