// The least a Node server can spend sending a file without sendfile(2): the reference of
// bench:static. node bare-file-server.mjs FILE — answers every request on a connection with the
// whole file: fs.read into 1 MiB buffers -> socket.write, waiting for 'drain' when it says so.
import { open } from 'node:fs/promises'
import { createServer } from 'node:net'

const path = process.argv[2]
if (path === undefined) {
  console.error('usage: bare-file-server.mjs FILE')
  process.exit(2)
}
const CHUNK = 1024 * 1024

async function send(socket) {
  const file = await open(path)
  try {
    const { size } = await file.stat()
    socket.write(
      `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`,
    )
    for (let position = 0; position < size && !socket.destroyed; ) {
      const buffer = Buffer.allocUnsafe(CHUNK)
      const { bytesRead } = await file.read(buffer, 0, CHUNK, position)
      if (bytesRead === 0) break
      position += bytesRead
      if (!socket.write(buffer.subarray(0, bytesRead))) {
        await new Promise((resolve) => {
          const done = () => {
            socket.off('drain', done).off('close', done)
            resolve()
          }
          socket.once('drain', done).once('close', done)
        })
      }
    }
    socket.end()
  } finally {
    await file.close()
  }
}

const server = createServer((socket) => {
  socket.on('error', () => socket.destroy())
  let head = ''
  const onData = (chunk) => {
    head += chunk.toString('latin1')
    if (!head.includes('\r\n\r\n')) return
    socket.off('data', onData)
    send(socket).catch((error) => socket.destroy(error))
  }
  socket.on('data', onData)
})
server.listen(0, '127.0.0.1', () => {
  console.log(`bare file server listening on http://127.0.0.1:${server.address().port}`)
})
process.on('SIGTERM', () => {
  server.close()
  process.exit(0)
})
