import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { listen, tempDir } from '@sluice/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { parseByteRange, RecentBytes, resolveUnderRoot, serveFile } from './index.js'

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
    expect(parseByteRange('bytes=9-1', 100)).toBeUndefined()
  })
})

describe('resolveUnderRoot', () => {
  it('maps clean paths below the root', () => {
    expect(resolveUnderRoot('/srv/data', '/a/b.txt')).toBe('/srv/data/a/b.txt')
    expect(resolveUnderRoot('/srv/data/', '/a%20b')).toBe('/srv/data/a b')
  })

  it('refuses every way out of the root', () => {
    for (const path of [
      '/',
      '/../etc/passwd',
      '/a/../../etc',
      '/%2e%2e/etc',
      '/a/%2E%2E/%2E%2E/x',
      '/a%2f..%2f..%2fx',
      '/a\\..\\x',
      '/a%5c..%5cx',
      '/a%00b',
      '/a//b',
      '/a/./b',
      '/%zz',
      'relative',
    ]) {
      expect(resolveUnderRoot('/srv/data', path), path).toBeUndefined()
    }
  })
})

describe('serveFile', () => {
  it('serves a file with length, ETag, one range, HEAD and 304, and reports a missing file', async () => {
    const dir = await tempDir()
    cleanups.push(dir.remove)
    const path = join(dir.path, 'f.txt')
    await writeFile(path, '0123456789')
    const server = createServer((req, res) => {
      const target =
        req.url === '/missing' ? join(dir.path, 'nope') : req.url === '/dir' ? dir.path : path
      serveFile(req, res, target, { contentType: 'text/plain' }).then((served) => {
        if (!served) res.writeHead(404).end()
      })
    })
    const { url, close } = await listen(server)
    cleanups.push(close)

    const whole = await fetch(`${url}/f`)
    expect(whole.status).toBe(200)
    expect(whole.headers.get('content-length')).toBe('10')
    expect(whole.headers.get('content-type')).toBe('text/plain')
    expect(await whole.text()).toBe('0123456789')
    const etag = whole.headers.get('etag') ?? ''
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/)

    const part = await fetch(`${url}/f`, { headers: { range: 'bytes=2-4' } })
    expect(part.status).toBe(206)
    expect(part.headers.get('content-range')).toBe('bytes 2-4/10')
    expect(await part.text()).toBe('234')
    const beyond = await fetch(`${url}/f`, { headers: { range: 'bytes=10-' } })
    expect(beyond.status).toBe(416)
    expect(beyond.headers.get('content-range')).toBe('bytes */10')

    const head = await fetch(`${url}/f`, { method: 'HEAD' })
    expect(head.headers.get('content-length')).toBe('10')
    expect(await head.text()).toBe('')
    expect((await fetch(`${url}/f`, { headers: { 'if-none-match': etag } })).status).toBe(304)
    expect((await fetch(`${url}/missing`)).status).toBe(404)
    expect((await fetch(`${url}/dir`)).status).toBe(404)
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
