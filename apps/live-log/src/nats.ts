// One nats-server with JetStream for the demo (LIVE_LOG_NATS=1): its store in a scratch directory,
// stopped with the demo.
import { spawn, spawnSync } from 'node:child_process'
import { type AddressInfo, createServer } from 'node:net'
import { join } from 'node:path'
import { scratchDir } from '@sluice/internal/cli'

/** Why nats-server cannot run here, or undefined. */
export function natsMissing(): string | undefined {
  const probe = spawnSync('nats-server', ['--version'], { stdio: 'ignore' })
  return probe.error || probe.status !== 0
    ? 'nats-server is not installed (Debian: apt-get install nats-server)'
    : undefined
}

/** A port nobody listens on at this moment (the OS's pick). */
async function freePort(): Promise<number> {
  const server = createServer()
  server.on('error', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * Starts nats-server with JetStream on free loopback ports; resolves with its URL once it is
 * healthy. A port taken between its pick and nats-server's start (other servers start beside the
 * demo, as in CI) makes nats-server exit at once: it is started again on other ports.
 */
export async function startNatsServer(): Promise<string> {
  const store = join(await scratchDir('sluice-live-log-nats-'), 'jetstream')
  let output = ''
  for (let start = 0; start < 3; start++) {
    const [port, monitorPort] = [await freePort(), await freePort()]
    const child = spawn(
      'nats-server',
      [
        '-js',
        '-sd',
        join(store, String(start)),
        '-a',
        '127.0.0.1',
        '-p',
        String(port),
        '-m',
        String(monitorPort),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    child.on('error', (error) => console.error(`[live-log] nats-server: ${error.message}`))
    // Its log, kept short: why it stopped, if it does.
    child.stderr.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-2000)
    })
    const stop = () => child.kill()
    process.once('exit', stop)
    for (let attempt = 0; attempt < 100; attempt++) {
      const healthy = await fetch(`http://127.0.0.1:${monitorPort}/healthz`).then(
        (res) => res.ok,
        () => false,
      )
      if (healthy) return `nats://127.0.0.1:${port}`
      if (child.exitCode !== null) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    child.kill()
    process.off('exit', stop)
  }
  throw new Error(`nats-server did not start: ${output.trim().split('\n').slice(-3).join(' | ')}`)
}
