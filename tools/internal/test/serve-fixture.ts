// Serves with serve() from a scratch directory holding a file, and holds every request open (so
// that a drain lasts): prints the directory, then `fixture listening on URL`.
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { scratchDir, serve } from '../src/cli/index.js'

const dir = await scratchDir('sluice-serve-test-')
await writeFile(join(dir, 'part.bin'), Buffer.alloc(1024))
process.stdout.write(`${dir}\n`)
const server = createServer((_req, res) => res.writeHead(200).write('held'))
await serve([{ server, name: 'fixture', host: '127.0.0.1', port: 0 }], { drainMs: 1_000 })
