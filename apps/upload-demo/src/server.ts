import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import { createHashHandler, type HashHandlerOptions } from '@sluice/hash-server'
import { rawPathOf } from '@sluice/internal/fs'
import { createHttpServer, sendAsset } from '@sluice/internal/http'

const page = readFileSync(new URL('./page/index.html', import.meta.url))
// tus-js-client's browser build (a UMD script defining `tus`), served beside the page.
const tusClient = readFileSync(
  createRequire(import.meta.url).resolve('tus-js-client/dist/tus.min.js'),
)

/** Where the page creates its resumable uploads (hash-server's tus endpoint). */
export const TUS_PATH = '/files/'

/**
 * hash-server's handler plus the demo page at `/`: the page uploads the files picked in it with
 * tus (resumable: pause, resume, or pick the file again after a reload), each with its progress,
 * compares the server's SHA-256 with the browser's and, with a store, says where each file went
 * (`GET /where` names the store). Uploads in progress are kept in `tusDirectory`.
 */
export function createUploadDemoServer(options: HashHandlerOptions, tusDirectory: string): Server {
  const hash = createHashHandler({ ...options, tus: { path: TUS_PATH, directory: tusDirectory } })
  const { store } = options
  const where = Buffer.from(
    JSON.stringify({ store: typeof store === 'string' ? store : (store?.location ?? null) }),
  )
  const server = createHttpServer((req, res) => {
    const path = rawPathOf(req.url)
    const reading = req.method === 'GET' || req.method === 'HEAD'
    if (reading && (path === '/' || path === '/index.html')) {
      sendAsset(req, res, page, 'text/html')
      return
    }
    if (reading && path === '/tus.min.js') {
      sendAsset(req, res, tusClient, 'text/javascript')
      return
    }
    if (reading && path === '/where') {
      sendAsset(req, res, where, 'application/json')
      return
    }
    hash(req, res)
  })
  server.on('checkContinue', (req, res) => {
    hash.expectsContinue(req)
    server.emit('request', req, res)
  })
  server.on('close', () => {
    hash.close().catch(() => {})
  })
  return server
}
