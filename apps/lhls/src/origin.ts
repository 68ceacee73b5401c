import { readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { createRequire } from 'node:module'
import { type ChunkedServer, createChunkedServer } from '@sluice/chunked-server'

const require = createRequire(import.meta.url)

/** An upload to the origin whose body is written as it is produced, honouring backpressure. */
export interface Upload {
  write(chunk: Buffer): Promise<void>
  /** Ends the body (with `last`, if given) and resolves once the origin answered 2xx. */
  end(last?: Buffer): Promise<void>
  abort(): void
}

/** Starts a PUT of `url` (chunked unless `headers` give a Content-Length). */
export function startUpload(url: string, headers: Record<string, string | number>): Upload {
  const req = request(url, { method: 'PUT', headers })
  const answered = new Promise<void>((resolve, reject) => {
    req.once('error', reject)
    req.once('response', (res) => {
      res.resume()
      if (res.statusCode !== undefined && res.statusCode < 300) resolve()
      else reject(new Error(`PUT ${url}: ${res.statusCode}`))
    })
  })
  answered.catch(() => {})
  return {
    async write(chunk) {
      if (!req.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          req.once('drain', resolve)
          answered.catch(reject)
        })
      }
    },
    async end(last) {
      req.end(last)
      await answered
    },
    abort: () => req.destroy(),
  }
}

/** Uploads one object to the origin (a single PUT with a known length). */
export function putObject(
  origin: string,
  path: string,
  body: Buffer,
  contentType: string,
  more: Record<string, string> = {},
): Promise<void> {
  const headers = { ...more, 'Content-Type': contentType, 'Content-Length': body.length }
  return startUpload(`${origin}${path}`, headers).end(body)
}

/** Deletes an object of the origin; one already gone is no failure. */
export async function deleteObject(url: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = request(url, { method: 'DELETE' }, (res) => {
      res.resume()
      if (res.statusCode === 204 || res.statusCode === 404) resolve()
      else reject(new Error(`DELETE ${url}: ${res.statusCode}`))
    })
    req.once('error', reject)
    req.end()
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

/** Publishes the player pages, hls.js and dash.js on the origin under /player/. */
export async function publishPlayer(origin: string): Promise<void> {
  const files: Array<[string, URL | string, string]> = [
    ['index.html', new URL('./player/index.html', import.meta.url), 'text/html'],
    ['dash.html', new URL('./player/dash.html', import.meta.url), 'text/html'],
    ['player.css', new URL('./player/player.css', import.meta.url), 'text/css'],
    ['hls.min.js', require.resolve('hls.js/dist/hls.min.js'), 'text/javascript'],
    ['dash.all.min.js', require.resolve('dashjs/dist/dash.all.min.js'), 'text/javascript'],
  ]
  for (const [name, file, type] of files) {
    await putObject(origin, `/player/${name}`, await readFile(file), `${type}; charset=utf-8`)
  }
}
