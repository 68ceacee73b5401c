import { fileURLToPath } from 'node:url'
import {
  chromiumPath,
  launchChromium,
  listen,
  missingTool,
  paintedShare,
  scrapeMetrics,
  startServerProcess,
} from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { backendAt } from './backends.js'
import { createGateway } from './gateway.js'
import { createStreamService } from './service.js'

const serviceBin = fileURLToPath(new URL('../bin/service.js', import.meta.url))
const chromiumMissing = missingTool(chromiumPath)

async function startPair() {
  const services = [await listen(createStreamService()), await listen(createStreamService())]
  const { server, pool } = createGateway({
    intervalMs: 200,
    // A closed service refuses its probe at once; a live one may answer slowly on a loaded
    // machine, and one slow probe marks a backend down.
    timeoutMs: 5_000,
    backends: {
      kind: 'static',
      backends: services.map((service) => backendAt('127.0.0.1', service.port)),
    },
  })
  await pool.refresh()
  return { services, gateway: await listen(server) }
}

describe('gateway metrics and page', () => {
  it('counts backends, streams by outcome and bytes in /metrics, and serves its page at /', async () => {
    const { services, gateway } = await startPair()
    for (const size of [1000, 2000, 3000]) {
      expect((await fetch(`${gateway.url}/stream?size=${size}`, { method: 'POST' })).status).toBe(
        200,
      )
    }
    let metrics = await scrapeMetrics(`${gateway.url}/metrics`)
    expect(metrics.get('tcp_stream_gateway_backends')).toBe(2)
    expect(metrics.get('tcp_stream_gateway_healthy_backends')).toBe(2)
    expect(metrics.get('tcp_stream_gateway_streams_total{outcome="acked"}')).toBe(3)
    expect(metrics.get('tcp_stream_gateway_streamed_bytes_total')).toBe(6000)
    expect(metrics.get('tcp_stream_gateway_requests_total{method="POST",status="200"}')).toBe(3)

    await Promise.all(services.map((service) => service.close()))
    await expect
      .poll(async () =>
        (await scrapeMetrics(`${gateway.url}/metrics`)).get('tcp_stream_gateway_healthy_backends'),
      )
      .toBe(0)
    expect((await fetch(`${gateway.url}/stream?size=1`, { method: 'POST' })).status).toBe(503)
    metrics = await scrapeMetrics(`${gateway.url}/metrics`)
    expect(metrics.get('tcp_stream_gateway_streams_total{outcome="no_backend"}')).toBe(1)

    const page = await fetch(`${gateway.url}/`)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(await page.text()).toContain('<form id="stream">')
  })
})

describe('service status port', () => {
  it('answers /health and counts connections, frames and bytes in /metrics', async () => {
    const service = await startServerProcess(process.execPath, [
      '--import',
      'tsx',
      serviceBin,
      '--port',
      '0',
      '--status-port',
      '0',
    ])
    await expect.poll(() => service.output()).toMatch(/status listening on http:\/\//)
    const status = /status listening on (http:\/\/\S+)/.exec(service.output())?.[1] ?? ''
    const port = Number(new URL(service.url).port)
    // A probe may take long on a loaded machine: one timed out is a backend marked down.
    const { server, pool } = createGateway({
      backends: { kind: 'static', backends: [backendAt('127.0.0.1', port)] },
      timeoutMs: 5_000,
    })
    await pool.refresh()
    const gateway = await listen(server)
    expect((await fetch(`${gateway.url}/stream?size=70000`, { method: 'POST' })).status).toBe(200)
    expect(await (await fetch(`${status}/health`)).text()).toBe('ok\n')
    const metrics = await scrapeMetrics(`${status}/metrics`)
    // The gateway's health probe is an empty frame: it is acked too.
    expect(metrics.get('tcp_stream_service_frames_total{outcome="acked"}')).toBeGreaterThanOrEqual(
      2,
    )
    expect(metrics.get('tcp_stream_service_received_bytes_total')).toBe(70000)
    expect(metrics.has('tcp_stream_service_connections')).toBe(true)
    expect((await fetch(`${status}/other`)).status).toBe(404)
    expect(await service.stop()).toBe(0)
  })
})

describe.skipIf(chromiumMissing !== undefined)('gateway page in Chromium', () => {
  it("shows each backend's health live and streams N bytes from its form", async () => {
    const { services, gateway } = await startPair()
    const addresses = services.map((service) => `127.0.0.1:${service.port}`)
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (error) => errors.push(error.message))
      await page.goto(`${gateway.url}/`)
      await expect.poll(() => page.textContent('#overall')).toBe('serving')
      await expect.poll(() => page.locator('#backends td.state.up').count()).toBe(2)
      expect(await paintedShare(page)).toBeGreaterThan(0.005)

      await page.fill('#size', '3')
      await page.selectOption('#unit', '1048576')
      await page.click('#stream button')
      await expect.poll(() => page.textContent('#progress'), { timeout: 10_000 }).toBe('done')
      expect(await page.textContent('#result-size')).toBe(
        `${(3 * 1048576).toLocaleString('en-US')} bytes`,
      )
      expect(await page.textContent('#result-sha256')).toMatch(/^[0-9a-f]{64}$/)
      expect(addresses).toContain(await page.textContent('#result-backend'))
      expect(await page.textContent('#result-rate')).toMatch(/\/s$/)

      await services[0]?.close()
      await expect
        .poll(() => page.locator(`tr[data-address="${addresses[0]}"] td.state`).textContent())
        .toBe('down')
      await expect.poll(() => page.textContent('#overall')).toBe('serving')
      expect(errors).toEqual([])
    } finally {
      await browser.close()
    }
  }, 90_000)
})
