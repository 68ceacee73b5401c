import { createServer } from 'node:http'
import { listen } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import { append, FstreamProtocolError, follow, PROTOCOL } from './index.js'

/** A real WebSocket server that speaks fstream.v1 badly: its first message is `text`. */
async function badServer(text: string) {
  const server = createServer()
  const wss = new WebSocketServer({
    server,
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  })
  wss.on('connection', (ws) => {
    ws.on('error', () => {})
    ws.send(text)
  })
  const listening = await listen(server)
  return {
    url: listening.url,
    close: async () => {
      for (const client of wss.clients) client.terminate()
      await listening.close()
    },
  }
}

describe('a server that breaks fstream.v1', () => {
  for (const text of ['not json', '{"type":"ready"}', '{"type":"ack","offset":-5}', '[]']) {
    it(`fails append and follow with FSTREAM_ERR_PROTOCOL on ${text}`, async () => {
      const server = await badServer(text)
      try {
        await expect(append(`${server.url}/r`, [Buffer.from('data')])).rejects.toMatchObject({
          code: 'FSTREAM_ERR_PROTOCOL',
        })
        const reading = follow(`${server.url}/r`)
        const failed = new Promise((resolve) => reading.once('error', resolve))
        reading.resume()
        expect(await failed).toMatchObject({ code: 'FSTREAM_ERR_PROTOCOL' })
        expect(await failed).toBeInstanceOf(FstreamProtocolError)
      } finally {
        await server.close()
      }
    })
  }
})
