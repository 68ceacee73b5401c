// A receiver that reads and drops request bodies and answers how many bytes it got: cheap enough
// that a benchmark measures the client, not the server.
import { createServer } from 'node:http'

const server = createServer((req, res) => {
  let bytes = 0
  req.on('data', (chunk) => {
    bytes += chunk.length
  })
  req.on('end', () => res.end(`${bytes}\n`))
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`drain listening on http://127.0.0.1:${server.address().port}\n`)
})
process.once('SIGTERM', () => process.exit(0))
