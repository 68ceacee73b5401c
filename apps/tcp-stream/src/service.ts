import { createHash, type Hash } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { type Ack, FrameParser, smallFrame } from './frames.js'
import { ServiceMetrics } from './metrics.js'

export interface StreamServiceOptions {
  /** Largest frame accepted, in bytes (default 64 GiB); a larger one is refused with an error ack. */
  readonly maxFrameSize?: number
  /** A connection silent for this long is closed (default 60 000 ms). */
  readonly idleTimeoutMs?: number
}

export const DEFAULT_MAX_SIZE = 64 * 1024 ** 3

/** The TCP service, with its counters. */
export type StreamService = Server & { readonly metrics: ServiceMetrics }

/**
 * The TCP streaming service: reads length-prefixed frames on each connection, hashes their bytes
 * as they arrive (nothing is held) and answers each frame with an ack carrying its size and
 * SHA-256. A refused frame gets an error ack and the connection is closed.
 */
export function createStreamService(options: StreamServiceOptions = {}): StreamService {
  const maxFrameSize = BigInt(options.maxFrameSize ?? DEFAULT_MAX_SIZE)
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000
  const metrics = new ServiceMetrics()
  const server = createServer((socket) =>
    serveConnection(socket, { maxFrameSize, idleTimeoutMs, metrics }),
  )
  return Object.assign(server, { metrics })
}

interface ConnectionOptions {
  readonly maxFrameSize: bigint
  readonly idleTimeoutMs: number
  readonly metrics: ServiceMetrics
}

function serveConnection(socket: Socket, options: ConnectionOptions): void {
  const { maxFrameSize, idleTimeoutMs, metrics } = options
  metrics.connections.inc()
  socket.once('close', () => metrics.connections.dec())
  socket.on('error', () => socket.destroy())
  socket.setTimeout(idleTimeoutMs, () => socket.destroy())
  socket.setNoDelay(true)
  const send = (ack: Ack) => {
    // Acks are tiny, but a client that never reads them must not grow our buffer.
    if (!socket.write(smallFrame(Buffer.from(JSON.stringify(ack))))) {
      socket.pause()
      socket.once('drain', () => socket.resume())
    }
  }
  let hash: Hash | undefined
  let size = 0
  const parser = new FrameParser({
    start(length) {
      if (length > maxFrameSize) {
        send({ error: `frame of ${length} bytes is over the limit of ${maxFrameSize}` })
        metrics.countFrame('refused')
        socket.end()
        return false
      }
      hash = createHash('sha256')
      size = 0
      return true
    },
    data(chunk) {
      hash?.update(chunk)
      size += chunk.length
      metrics.countReceived(chunk.length)
    },
    end() {
      send({ size, sha256: hash?.digest('hex') ?? '' })
      metrics.countFrame('acked')
      hash = undefined
    },
  })
  socket.on('data', (chunk: Buffer) => parser.push(chunk))
  socket.on('end', () => {
    // A client that stops in the middle of a frame sent a short frame: say so, never ack it.
    if (parser.inFrame) {
      send({ error: `connection ended after ${size} bytes of a frame` })
      metrics.countFrame('short')
    }
    socket.end()
  })
}
