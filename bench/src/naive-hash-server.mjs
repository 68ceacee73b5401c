// The reference a user would write first: createHash + 'data' events, no limits, no multipart.
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'

const server = createServer((req, res) => {
  const hash = createHash('md5')
  req.on('data', (chunk) => hash.update(chunk))
  req.on('end', () => res.end(`${hash.digest('hex')}\n`))
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`naive listening on http://127.0.0.1:${server.address().port}\n`)
})
process.once('SIGTERM', () => process.exit(0))
