import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { listen, tempDir } from '@sluice/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { parseByteRange, RecentBytes, serveFile } from './index.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.()
})

describe('parseByteRange', () => {
  it('reads first-last, open-ended and suffix ranges, clamped to the size', () => {
    expect(parseByteRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 })
    expect(parseByteRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 })
    expect(parseByteRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 })
    expect(parseByteRange('bytes=-500', 100)).toEqual({ start: 0, end: 99 })
    expect(parseByteRange('bytes=50-5000', 100)).toEqual({ start: 50, end: 99 })
  })

  it('answers unsatisfiable past the end and ignores what it does not support', () => {
    expect(parseByteRange('bytes=100-', 100)).toBe('unsatisfiable')
    expect(parseByteRange('bytes=-0', 100)).toBe('unsatisfiable')
    expect(parseByteRange(undefined, 100)).toBeUndefined()
    expect(parseByteRange('bytes=0-1,5-6', 100)).toBeUndefined()
    expect(parseByteRange('items=0-1', 100)).toBeUndefined()
    expect(parseByteRange('bytes=x-1', 100)).toBeUndefined()
    // Overlapping ranges are one range once combined.
    expect(parseByteRange('bytes=0-5,3-9', 100)).toEqual({ start: 0, end: 9 })
  })
})

describe('serveFile', () => {
  it('serves a file with length, ETag, one range, HEAD and 304, and reports a missing file', async () => {
    const dir = await tempDir()
    cleanups.push(dir.remove)
    await writeFile(join(dir.path, 'f.txt'), '0123456789')
    await mkdir(join(dir.path, 'sub'))
    const server = createServer((req, res) => {
      const relative = (req.url ?? '/').slice(1)
      serveFile(req, res, dir.path, relative, { contentType: 'text/plain' }).then((unservable) => {
        if (unservable) res.writeHead(404, { 'x-reason': unservable }).end()
      })
    })
    const { url, close } = await listen(server)
    cleanups.push(close)

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
    cleanups.push(dir.remove)
    await writeFile(join(dir.path, 'f'), '0123456789')
    const { url, close } = await listen(
      createServer((req, res) => {
        serveFile(req, res, dir.path, 'f')
      }),
    )
    cleanups.push(close)
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
    cleanups.push(dir.remove)
    const root = join(dir.path, 'root')
    await mkdir(root)
    await writeFile(join(dir.path, 'secret'), 'outside')
    await symlink(join(dir.path, 'secret'), join(root, 'link'))
    await symlink(dir.path, join(root, 'up'))
    const { url, close } = await listen(
      createServer((req, res) => {
        serveFile(req, res, root, (req.url ?? '/').slice(1)).then((unservable) => {
          res.writeHead(unservable === 'symlink' ? 403 : 404).end(unservable)
        })
      }),
    )
    cleanups.push(close)
    for (const path of ['/link', '/up/secret']) {
      const res = await fetch(`${url}${path}`)
      expect([res.status, await res.text()], path).toEqual([403, 'symlink'])
    }
  })
})

describe('RecentBytes', () => {
  it('keeps the newest chunks from a start position and reads within one chunk', () => {
    const recent = new RecentBytes(8, 100)
    expect(recent.read(100, 4)).toBeUndefined()
    recent.push([Buffer.from('abcd'), Buffer.from('efgh')])
    expect(recent.end).toBe(108)
    expect(recent.read(99, 4)).toBeUndefined()
    expect(recent.read(102, 10)?.toString()).toBe('cd')
    expect(recent.read(104, 2)?.toString()).toBe('ef')
    recent.push([Buffer.from('ijkl')])
    // 'abcd' is dropped: 8 bytes or more remain without it.
    expect(recent.read(103, 1)).toBeUndefined()
    expect(recent.read(104, 8)?.toString()).toBe('efgh')
    expect(recent.read(110, 8)?.toString()).toBe('kl')
    expect(recent.read(112, 1)).toBeUndefined()
  })
})
