// The reference of bench:fstream-relay: a raw two-hop WebSocket relay with no storage and no
// acknowledgements, the least an append -> server -> follower path can cost.
//   node ws-relay.mjs server             relays each binary message of /append to every /follow
//   node ws-relay.mjs append URL < FILE  sends stdin as 256 KiB binary messages, then closes
//   node ws-relay.mjs follow URL > FILE  writes every message to stdout until the relay closes
// Backpressure is kept on every hop: a full socket pauses the one feeding it.
import { once } from 'node:events'
import { read } from 'node:fs'
import WebSocket, { WebSocketServer } from 'ws'

const [role, url] = process.argv.slice(2)
const HIGH = 4 * 1024 * 1024

if (role === 'server') {
  const followers = new Set()
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
  wss.on('connection', (ws, req) => {
    ws.on('error', () => ws.terminate())
    if (req.url?.startsWith('/follow')) {
      followers.add(ws)
      ws.on('close', () => followers.delete(ws))
      return
    }
    ws.on('message', (data) => {
      for (const follower of followers) {
        follower.send(data, { binary: true })
        if (follower.bufferedAmount > HIGH) {
          ws._socket.pause()
          follower._socket.once('drain', () => ws._socket.resume())
        }
      }
    })
    ws.on('close', () => {
      for (const follower of followers) follower.close(1000)
    })
  })
  wss.on('listening', () => console.log(`relay listening on ws://127.0.0.1:${wss.address().port}`))
} else if (role === 'append') {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  ws.on('error', (error) => {
    console.error(error.message)
    process.exit(1)
  })
  await once(ws, 'open')
  const send = async (chunk) => {
    ws.send(chunk, { binary: true })
    if (ws.bufferedAmount > HIGH) await once(ws._socket, 'drain')
  }
  // 256 KiB reads of stdin (a file): each one message, as fstream's appender sends them.
  const readChunk = () =>
    new Promise((resolve, reject) => {
      const buffer = Buffer.allocUnsafe(256 * 1024)
      read(0, buffer, 0, buffer.length, null, (error, n) =>
        error ? reject(error) : resolve(buffer.subarray(0, n)),
      )
    })
  for (let chunk = await readChunk(); chunk.length > 0; chunk = await readChunk()) await send(chunk)
  ws.close(1000)
  await once(ws, 'close')
} else if (role === 'follow') {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  ws.on('error', (error) => {
    console.error(error.message)
    process.exit(1)
  })
  ws.on('message', (data) => {
    if (!process.stdout.write(data)) {
      ws._socket.pause()
      process.stdout.once('drain', () => ws._socket.resume())
    }
  })
  ws.on('close', () => process.stdout.end())
} else {
  console.error('usage: ws-relay.mjs server | append URL | follow URL')
  process.exit(2)
}
