// One nats-server with JetStream for the demo (LIVE_LOG_NATS=1): its store in a scratch directory,
// stopped with the demo.
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { scratchDir } from '@sluice/internal/cli'

/** Why nats-server cannot run here, or undefined. */
export function natsMissing(): string | undefined {
  const probe = spawnSync('nats-server', ['--version'], { stdio: 'ignore' })
  return probe.error || probe.status !== 0
    ? 'nats-server is not installed (Debian: apt-get install nats-server)'
    : undefined
}

/** Starts nats-server with JetStream on 127.0.0.1:`port`; resolves with its URL once it is healthy. */
export async function startNatsServer(port: number, monitorPort: number): Promise<string> {
  const store = join(await scratchDir('sluice-live-log-nats-'), 'jetstream')
  const child = spawn(
    'nats-server',
    ['-js', '-sd', store, '-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort)],
    { stdio: 'ignore' },
  )
  child.on('error', (error) => console.error(`[live-log] nats-server: ${error.message}`))
  process.once('exit', () => child.kill())
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
  throw new Error(`nats-server did not start on port ${port}`)
}
