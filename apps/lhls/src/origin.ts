import { readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { createRequire } from 'node:module'
import { type ChunkedServer, createChunkedServer } from '@sluice/chunked-server'

const require = createRequire(import.meta.url)

/** Uploads one object to the origin (a single PUT with a known length). */
export async function putObject(
  origin: string,
  path: string,
  body: Buffer,
  contentType: string,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = request(`${origin}${path}`, {
      method: 'PUT',
      headers: { 'Content-Type': contentType, 'Content-Length': body.length },
    })
    req.once('error', reject)
    req.once('response', (res) => {
      res.resume()
      res.once('end', () =>
        res.statusCode !== undefined && res.statusCode < 300
          ? resolve()
          : reject(new Error(`PUT ${path}: ${res.statusCode}`)),
      )
    })
    req.end(body)
  })
}

/**
 * The live origin: a chunked-server over `root` (objects expire by their upload's max-age, readers
 * may wait 5 s for an object not started yet, CORS open for players on other origins).
 */
export function createOrigin(root: string): ChunkedServer {
  return createChunkedServer({
    root,
    expire: true,
    waitMs: 5_000,
    cors: { allowedOrigins: ['*'], allowedMethods: ['GET', 'HEAD', 'OPTIONS'] },
  })
}

/** Publishes the player page and hls.js on the origin under /player/. */
export async function publishPlayer(origin: string): Promise<void> {
  const page = await readFile(new URL('./player/index.html', import.meta.url))
  const hls = await readFile(require.resolve('hls.js/dist/hls.min.js'))
  await putObject(origin, '/player/index.html', page, 'text/html; charset=utf-8')
  await putObject(origin, '/player/hls.min.js', hls, 'text/javascript; charset=utf-8')
}
