import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { createHashHandler, type HashHandlerOptions } from '@sluice/hash-server'
import { rawPathOf } from '@sluice/internal/fs'
import { createHttpServer, sendAsset } from '@sluice/internal/http'

const page = readFileSync(new URL('./page/index.html', import.meta.url))

/**
 * hash-server's handler plus the demo page at `/`: the page uploads the files picked in it, one
 * request each with its progress, compares the server's SHA-256 with the browser's and, with a
 * store, says where each file went (`GET /where` names the store).
 */
export function createUploadDemoServer(options: HashHandlerOptions = {}): Server {
  const hash = createHashHandler(options)
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
