import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { DiskStore, type ObjectStore, S3Store } from '@sluice/hash-server'
import {
  chromiumPath,
  launchChromium,
  listen,
  missingSwift,
  missingTool,
  paintedShare,
  payloadFile,
  scrapeMetrics,
  startSwiftS3,
  tempDir,
} from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { createUploadDemoServer } from './server.js'

const digest = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest('hex')
const chromiumMissing = missingTool(chromiumPath)

describe('upload-demo server', () => {
  it('serves the page at / and hashes uploads everywhere else, with 100-continue', async () => {
    const tusDir = await tempDir('upload-demo-tus-')
    const { url } = await listen(createUploadDemoServer({ algorithms: 'sha256' }, tusDir.path))
    const page = await fetch(`${url}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(await page.text()).toContain('<input id="files" type="file" multiple')
    const client = await fetch(`${url}/tus.min.js`)
    expect([client.status, client.headers.get('content-type')]).toEqual([
      200,
      'text/javascript; charset=utf-8',
    ])
    expect(await client.text()).toContain('Tus-Resumable')
    const options = await fetch(`${url}/files/`, { method: 'OPTIONS' })
    expect(options.headers.get('tus-version')).toBe('1.0.0')
    const hashed = await fetch(`${url}/`, { method: 'POST', body: 'hello' })
    expect(await hashed.text()).toBe(`${digest('sha256', Buffer.from('hello'))}\n`)
    expect((await fetch(`${url}/elsewhere`)).status).toBe(405)
  })
})

/** A bucket of a one-node Swift, as `UPLOAD_DEMO_S3=1 pnpm dev` stores into. */
async function swiftStore(): Promise<ObjectStore> {
  const { endpoint, region, credentials } = await startSwiftS3()
  const client = new S3Client({ endpoint, region, credentials, forcePathStyle: true })
  await client.send(new CreateBucketCommand({ Bucket: 'uploads' }))
  client.destroy()
  return new S3Store({
    ...{ bucket: 'uploads', prefix: 'demo', endpoint, region, credentials },
    forcePathStyle: true,
  })
}

const stores: Array<[string, () => Promise<ObjectStore | undefined>]> = [
  ['no store', async () => undefined],
  ['a directory', async () => new DiskStore((await tempDir('upload-demo-store-')).path)],
]
if (chromiumMissing === undefined && missingSwift() === undefined) {
  stores.push(['S3 (Swift)', swiftStore])
}

describe.skipIf(chromiumMissing !== undefined).each(stores)(
  'upload-demo page in Chromium, %s',
  (_, makeStore) => {
    it("uploads several picked files with progress, shows the server's digests equal to the browser's and where each went", async () => {
      const store = await makeStore()
      await store?.init()
      const tusDir = await tempDir('upload-demo-tus-')
      const { url } = await listen(
        createUploadDemoServer(
          { algorithms: 'md5,sha256', ...(store ? { store } : {}) },
          tusDir.path,
        ),
      )
      const files = [
        { name: 'small.txt', mimeType: 'text/plain', buffer: Buffer.from('hello, sluice\n') },
        {
          name: 'random.bin',
          mimeType: 'application/octet-stream',
          buffer: randomBytes(3_000_001),
        },
        { name: 'empty.dat', mimeType: 'application/octet-stream', buffer: Buffer.alloc(0) },
      ]
      const browser = await launchChromium()
      try {
        const page = await browser.newPage()
        const errors: string[] = []
        page.on('pageerror', (error) => errors.push(error.message))
        await page.goto(`${url}/`)
        expect(await paintedShare(page)).toBeGreaterThan(0.005)
        await page.setInputFiles('#files', files)
        await page.click('#upload')
        await expect
          .poll(() => page.locator('tr.match').count(), { timeout: 20_000 })
          .toBe(files.length)
        for (const file of files) {
          const row = page.locator(`tr[data-name="${file.name}"]`)
          expect(await row.locator('.server-sha256').textContent()).toBe(
            digest('sha256', file.buffer),
          )
          expect(await row.locator('.browser-sha256').textContent()).toBe(
            digest('sha256', file.buffer),
          )
          expect(await row.locator('.server-md5').textContent()).toBe(digest('md5', file.buffer))
          expect(
            await row
              .locator('progress')
              .evaluate((bar) => (bar as unknown as { value: number }).value),
          ).toBe(1)
          expect(await row.locator('.verdict').textContent()).toBe('equal')
          const stored = await row.locator('.stored').textContent()
          if (store === undefined) expect(stored).toBe('not stored')
          else {
            const name = `sha256/${digest('sha256', file.buffer)}`
            expect(stored).toBe(`${store.location} ${name}`)
            const href = await row.locator('.stored a').getAttribute('href')
            const back = await fetch(new URL(href ?? '', url))
            expect(Buffer.from(await back.arrayBuffer()).equals(file.buffer)).toBe(true)
          }
        }
        expect(errors).toEqual([])
      } finally {
        await browser.close()
        await store?.close()
      }
    }, 120_000)
  },
)

describe.skipIf(chromiumMissing !== undefined)('upload-demo page in Chromium, resumable', () => {
  it('pauses and resumes an upload, and after a reload goes on where it stopped: equal digests, each byte about once', async () => {
    const dir = await tempDir('upload-demo-resume-')
    const file = await payloadFile(join(dir.path, 'big.bin'), 48 * 1024 * 1024)
    const server = createUploadDemoServer({ algorithms: 'md5,sha256' }, join(dir.path, 'tus'))
    const { url } = await listen(server)
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (error) => errors.push(error.message))
      // Uploads at 16 MiB/s, so that there is time to pause, and to reload, in the middle.
      const cdp = await page.context().newCDPSession(page)
      const throttle = () =>
        cdp.send('Network.emulateNetworkConditions', {
          offline: false,
          latency: 0,
          downloadThroughput: -1,
          uploadThroughput: 16 * 1024 * 1024,
        })
      await cdp.send('Network.enable')
      await throttle()
      await page.goto(`${url}/`)
      const row = page.locator('tr[data-name="big.bin"]')
      const progress = () =>
        row.locator('progress').evaluate((bar) => (bar as unknown as { value: number }).value)

      await page.setInputFiles('#files', file.path)
      await page.click('#upload')
      await expect.poll(progress, { timeout: 30_000 }).toBeGreaterThan(0.1)
      await row.locator('button.control').click()
      expect(await row.getAttribute('data-state')).toBe('paused')
      const paused = await progress()
      await new Promise((resolve) => setTimeout(resolve, 500))
      expect(await progress()).toBe(paused)
      await row.locator('button.control').click()
      await expect.poll(progress, { timeout: 30_000 }).toBeGreaterThan(Math.min(paused + 0.1, 0.6))

      // A reload ends the upload mid-way; picking the same file again resumes it.
      await page.reload()
      await throttle()
      await page.setInputFiles('#files', file.path)
      await page.click('#upload')
      await expect.poll(() => row.getAttribute('data-state'), { timeout: 60_000 }).toBe('done')
      const resumedAt = Number(await row.getAttribute('data-resumed-at'))
      expect(resumedAt).toBeGreaterThan(0.1 * file.size)
      expect(resumedAt).toBeLessThan(file.size)
      expect(await row.locator('.verdict').textContent()).toBe('equal')
      expect(await row.locator('.server-sha256').textContent()).toBe(file.sha256)
      expect(await row.locator('.server-md5').textContent()).toBe(file.md5)
      const hashed = (await scrapeMetrics(`${url}/metrics`)).get('hash_server_hashed_bytes_total')
      expect(hashed).toBe(file.size)
      expect(errors).toEqual([])
    } finally {
      await browser.close()
    }
  }, 120_000)
})
