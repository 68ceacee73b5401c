import { createHash } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { type ListeningServer, listen } from '@sluice/test-utils'
import busboy from 'busboy'

/** One part as busboy (an independent parser) saw it. */
export interface ReceivedPart {
  name: string
  filename: string | undefined
  mimeType: string | undefined
  size: number
  sha256: string
  value?: string
}

export interface ReceivedRequest {
  headers: IncomingHttpHeaders
  bodyBytes: number
  parts: ReceivedPart[]
}

/**
 * A server that parses multipart bodies with busboy and answers JSON describing the parts; it
 * records every request and counts TCP connections.
 */
export interface BusboyServer extends ListeningServer {
  readonly requests: ReceivedRequest[]
  /** Names of parts in the order their first bytes were parsed. */
  readonly partEvents: string[]
  readonly connections: number
}

export async function startBusboyServer(): Promise<BusboyServer> {
  const requests: ReceivedRequest[] = []
  const partEvents: string[] = []
  let connections = 0
  const server: Server = createServer((req, res) => {
    const received: ReceivedRequest = { headers: req.headers, bodyBytes: 0, parts: [] }
    requests.push(received)
    req.on('error', () => {})
    req.on('data', (chunk: Buffer) => {
      received.bodyBytes += chunk.length
    })
    const parser = busboy({
      headers: req.headers,
      defParamCharset: 'utf8',
      limits: { fieldSize: 1 << 20 },
    })
    parser.on('file', (name, stream, info) => {
      partEvents.push(name)
      stream.on('error', () => {})
      const hash = createHash('sha256')
      let size = 0
      stream.on('data', (chunk: Buffer) => {
        hash.update(chunk)
        size += chunk.length
      })
      stream.on('end', () => {
        received.parts.push({
          name,
          filename: info.filename,
          mimeType: info.mimeType,
          size,
          sha256: hash.digest('hex'),
        })
      })
    })
    parser.on('field', (name, value) => {
      partEvents.push(name)
      received.parts.push({
        name,
        filename: undefined,
        mimeType: undefined,
        size: Buffer.byteLength(value),
        sha256: createHash('sha256').update(value).digest('hex'),
        value,
      })
    })
    parser.on('error', (error: Error) => {
      if (!res.headersSent) res.writeHead(400).end(error.message)
    })
    parser.on('close', () => {
      if (res.headersSent) return
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(received.parts))
    })
    pipeline(req, parser).catch(() => {})
  })
  server.on('connection', () => {
    connections++
  })
  const listening = await listen(server)
  return {
    ...listening,
    requests,
    partEvents,
    get connections() {
      return connections
    },
  }
}
