import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { listen, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { serveFile } from './index.js'

describe('serveFile', () => {
  it('serves a file with length, ETag, one range, HEAD and 304, and reports a missing file', async () => {
    const dir = await tempDir()
    await writeFile(join(dir.path, 'f.txt'), '0123456789')
    await mkdir(join(dir.path, 'sub'))
    const server = createServer((req, res) => {
      const relative = (req.url ?? '/').slice(1)
      void serveFile(req, res, dir.path, relative, { contentType: 'text/plain' }).then(
        (unservable) => {
          if (unservable) res.writeHead(404, { 'x-reason': unservable }).end()
        },
      )
    })
    const { url } = await listen(server)
    const whole = await fetch(`${url}/f.txt`)
    expect(whole.status).toBe(200)
    expect(whole.headers.get('content-length')).toBe('10')
    expect(whole.headers.get('content-type')).toBe('text/plain')
    expect(await whole.text()).toBe('0123456789')
    const etag = whole.headers.get('etag') ?? ''
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/)

    const part = await fetch(`${url}/f.txt`, { headers: { range: 'bytes=2-4' } })
    expect(part.status).toBe(206)
    expect(part.headers.get('content-range')).toBe('bytes 2-4/10')
    expect(await part.text()).toBe('234')
    const beyond = await fetch(`${url}/f.txt`, { headers: { range: 'bytes=10-' } })
    expect(beyond.status).toBe(416)
    expect(beyond.headers.get('content-range')).toBe('bytes */10')

    const head = await fetch(`${url}/f.txt`, { method: 'HEAD' })
    expect(head.headers.get('content-length')).toBe('10')
    expect(await head.text()).toBe('')
    expect((await fetch(`${url}/f.txt`, { headers: { 'if-none-match': etag } })).status).toBe(304)
    const missing = await fetch(`${url}/missing`)
    expect([missing.status, missing.headers.get('x-reason')]).toEqual([404, 'missing'])
    const directory = await fetch(`${url}/sub`)
    expect([directory.status, directory.headers.get('x-reason')]).toEqual([404, 'not-a-file'])
  })

  it('applies a range only while If-Range matches, and answers 412 to a failed If-Match', async () => {
    const dir = await tempDir()
    await writeFile(join(dir.path, 'f'), '0123456789')
    const { url } = await listen(
      createServer((req, res) => {
        void serveFile(req, res, dir.path, 'f')
      }),
    )
    const first = await fetch(`${url}/f`)
    const etag = first.headers.get('etag') ?? ''
    const modified = first.headers.get('last-modified') ?? ''
    await first.arrayBuffer()
    const range = { range: 'bytes=8-' }
    const byEtag = await fetch(`${url}/f`, { headers: { ...range, 'if-range': etag } })
    expect([byEtag.status, await byEtag.text()]).toEqual([206, '89'])
    const byDate = await fetch(`${url}/f`, { headers: { ...range, 'if-range': modified } })
    expect([byDate.status, await byDate.text()]).toEqual([206, '89'])
    const weak = await fetch(`${url}/f`, { headers: { ...range, 'if-range': `W/${etag}` } })
    expect([weak.status, await weak.text()]).toEqual([200, '0123456789'])
    const older = new Date(Date.parse(modified) - 60_000).toUTCString()
    const stale = await fetch(`${url}/f`, { headers: { ...range, 'if-range': older } })
    expect([stale.status, await stale.text()]).toEqual([200, '0123456789'])
    expect((await fetch(`${url}/f`, { headers: { 'if-modified-since': modified } })).status).toBe(
      304,
    )
    expect((await fetch(`${url}/f`, { headers: { 'if-modified-since': older } })).status).toBe(200)
    expect((await fetch(`${url}/f`, { headers: { 'if-match': etag } })).status).toBe(200)
    expect((await fetch(`${url}/f`, { headers: { 'if-match': '"x"' } })).status).toBe(412)
    expect((await fetch(`${url}/f`, { headers: { 'if-unmodified-since': older } })).status).toBe(
      412,
    )
  })

  it('never follows a symbolic link below the root', async () => {
    const dir = await tempDir()
    const root = join(dir.path, 'root')
    await mkdir(root)
    await writeFile(join(dir.path, 'secret'), 'outside')
    await symlink(join(dir.path, 'secret'), join(root, 'link'))
    await symlink(dir.path, join(root, 'up'))
    const { url } = await listen(
      createServer((req, res) => {
        void serveFile(req, res, root, (req.url ?? '/').slice(1)).then((unservable) => {
          res.writeHead(unservable === 'symlink' ? 403 : 404).end(unservable)
        })
      }),
    )
    for (const path of ['/link', '/up/secret']) {
      const res = await fetch(`${url}${path}`)
      expect([res.status, await res.text()], path).toEqual([403, 'symlink'])
    }
  })
})
