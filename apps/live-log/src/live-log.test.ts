import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { append, openAppend } from '@sluice/fstream-client'
import {
  chromiumPath,
  type ListeningServer,
  launchChromium,
  listen,
  missingTool,
  paintedShare,
  tempDir,
} from '@sluice/test-utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLiveLogServer } from './server.js'

const chromiumMissing = missingTool(chromiumPath)

let root: Awaited<ReturnType<typeof tempDir>>
let server: ListeningServer
beforeEach(async () => {
  root = await tempDir('live-log-')
  server = await listen(createLiveLogServer({ root: root.path }))
})
afterEach(async () => {
  await server.close()
  await root.remove()
})

describe('live-log server', () => {
  it('serves the page at / and the logs under /logs/, nothing else', async () => {
    const page = await fetch(`${server.url}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(await page.text()).toContain("from '/fstream-protocol.js'")
    // The page's protocol module is the server's own: its names and its control-message check.
    const protocol = await fetch(`${server.url}/fstream-protocol.js`)
    expect(protocol.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const source = await protocol.text()
    expect(source).toContain('export const PROTOCOL = "fstream.v1"')
    const module = await import(`data:text/javascript,${encodeURIComponent(source)}`)
    expect(module.parseControl('{"type":"ack","offset":5}')).toEqual({ type: 'ack', offset: 5 })
    expect(module.parseControl('not json')).toBeUndefined()
    expect((await fetch(`${server.url}/`, { method: 'POST' })).status).toBe(405)
    expect((await fetch(`${server.url}/elsewhere`)).status).toBe(404)
    expect((await fetch(`${server.url}/logs/missing.log`)).status).toBe(404)
    expect(await (await fetch(`${server.url}/logs.json`)).json()).toEqual({ logs: [] })
    expect(await (await fetch(`${server.url}/health`)).text()).toBe('ok\n')
    await append(`${server.url}/logs/a.log`, 'line one\n')
    const log = await fetch(`${server.url}/logs/a.log`)
    expect(log.status).toBe(200)
    expect(await log.text()).toBe('line one\n')
  })
})

describe.skipIf(chromiumMissing !== undefined)('live-log page in Chromium', () => {
  it('shows lines appended from Node live, and appends lines typed in its form', async () => {
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (error) => errors.push(error.message))
      await page.goto(`${server.url}/?log=/logs/app.log`)
      // Not written yet: the page waits for it (?wait=1), then shows what arrives, as it arrives.
      const appender = openAppend(`${server.url}/logs/app.log`)
      appender.write('first line from node\n')
      await expect.poll(() => page.textContent('#log')).toBe('first line from node\n')
      appender.write(Buffer.from('caf\u00e9 \u2615 second line\n').subarray(0, 4))
      appender.write(Buffer.from('caf\u00e9 \u2615 second line\n').subarray(4))
      await expect
        .poll(() => page.textContent('#log'))
        .toBe('first line from node\ncaf\u00e9 \u2615 second line\n')
      await new Promise<void>((resolve, reject) =>
        appender.end((error?: Error | null) => (error ? reject(error) : resolve())),
      )
      await expect.poll(() => page.textContent('#status')).toMatch(/^complete: \d+ bytes/)

      await page.fill('#line', 'typed in the browser')
      await page.click('#append button')
      const expected = 'first line from node\ncaf\u00e9 \u2615 second line\ntyped in the browser\n'
      await expect
        .poll(() => page.textContent('#acked'))
        .toBe(`acked up to byte ${Buffer.byteLength(expected)}`)
      expect(await readFile(join(root.path, 'logs', 'app.log'), 'utf8')).toBe(expected)
      await expect.poll(() => page.textContent('#log')).toBe(expected)
      expect(errors).toEqual([])
    } finally {
      await browser.close()
    }
  }, 60_000)
})

describe.skipIf(chromiumMissing !== undefined)('live-log page teaches', () => {
  it('waits for the first line, lists the logs, shows the rate and the follower count', async () => {
    await append(`${server.url}/logs/other.log`, 'another log\n')
    await append(`${server.url}/logs/nested/deep.log`, 'deeper\n')
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (error) => errors.push(error.message))
      await page.goto(`${server.url}/?log=/logs/fresh.log`)
      await expect
        .poll(() => page.textContent('#status'))
        .toBe('waiting for the first line of /logs/fresh.log')
      expect(await paintedShare(page)).toBeGreaterThan(0.005)
      // The page itself is the one follower.
      await expect.poll(() => page.textContent('#followers')).toBe('1')
      await expect
        .poll(() => page.locator('#picker option').allTextContents())
        .toEqual(['/logs/fresh.log', '/logs/nested/deep.log', '/logs/other.log'])

      const appender = openAppend(`${server.url}/logs/fresh.log`)
      appender.write(`${'x'.repeat(20_000)}\n`)
      await expect.poll(() => page.textContent('#status')).toBe('following: 20001 bytes')
      await expect.poll(() => page.textContent('#rate')).toMatch(/^[1-9][\d.]* (Ki)?B\/s$/)
      expect(await page.textContent('#received')).toBe('19.5 KiB')
      await new Promise<void>((resolve, reject) =>
        appender.end((error?: Error | null) => (error ? reject(error) : resolve())),
      )

      await page.selectOption('#picker', '/logs/other.log')
      await page.waitForURL(/log=%2Flogs%2Fother\.log/)
      await expect.poll(() => page.textContent('#log')).toBe('another log\n')
      expect(errors).toEqual([])
    } finally {
      await browser.close()
    }
  }, 60_000)
})
