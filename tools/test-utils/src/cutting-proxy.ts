import { connect, createServer, type Socket } from 'node:net'
import { listen } from './listen.js'

/** A loopback TCP relay to a server that breaks connections where it is told to. */
export interface CuttingProxy {
  /** `http://127.0.0.1:PORT` of the relay. */
  readonly url: string
  /** Bytes relayed from clients to the server so far (all connections). */
  readonly upstreamBytes: number
  /** Connections broken so far. */
  readonly cuts: number
  close(): Promise<void>
}

/**
 * Relays every connection to `target` (`host:port`) and, each time the bytes sent by clients (all
 * connections together) pass one of `cutAfter` (ascending), destroys that connection on both
 * sides as a dropped network would: the bytes before the point are relayed, none after it.
 * Closed with the test that started it.
 */
export async function startCuttingProxy(
  target: { host: string; port: number },
  cutAfter: readonly number[],
): Promise<CuttingProxy> {
  const points = [...cutAfter].sort((a, b) => a - b)
  let upstreamBytes = 0
  let cuts = 0
  const server = createServer((client: Socket) => {
    const upstream = connect(target.port, target.host)
    // Set while the bytes before a cut are still on their way to the server.
    let cutting = false
    const destroyBoth = () => {
      client.destroy()
      if (!cutting) upstream.destroy()
    }
    client.on('error', destroyBoth)
    upstream.on('error', () => {
      cutting = false
      destroyBoth()
    })
    client.on('close', destroyBoth)
    upstream.on('close', () => client.destroy())
    upstream.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) upstream.pause()
    })
    client.on('drain', () => upstream.resume())
    client.on('data', (chunk: Buffer) => {
      const next = points[cuts]
      if (next !== undefined && upstreamBytes + chunk.length >= next) {
        const kept = next - upstreamBytes
        upstreamBytes = next
        cuts++
        cutting = true
        client.destroy()
        upstream.write(chunk.subarray(0, kept), () => upstream.destroy())
        return
      }
      upstreamBytes += chunk.length
      if (!upstream.write(chunk)) client.pause()
    })
    upstream.on('drain', () => client.resume())
  })
  const listening = await listen(server)
  return {
    url: listening.url,
    get upstreamBytes() {
      return upstreamBytes
    },
    get cuts() {
      return cuts
    },
    close: listening.close,
  }
}
