import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { cleanUpAfterTest } from './cleanup.js'
import { missingTool } from './tool.js'

const execFileAsync = promisify(execFile)

/** Why `varnishd` cannot run here (the tests that need it skip, or fail under SLUICE_REQUIRE_TOOLS). */
export function missingVarnish(): string | undefined {
  return missingTool('varnishd', ['-V'])
}

/** Ports below Linux's ephemeral range (32768–60999): never handed to port-0 listeners. */
const FIRST_PORT = 20_000
const LAST_PORT = 32_767

function bindable(port: number): Promise<boolean> {
  const server = createServer()
  return new Promise((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/**
 * A free TCP port on 127.0.0.1 for a process that binds it itself (nats-server, varnishd,
 * Swift), free a moment ago. Taken at random below the ephemeral range, where the port-0
 * listeners and outgoing connections of other tests never land, so that one of them cannot take
 * it before the caller binds it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = FIRST_PORT + Math.floor(Math.random() * (LAST_PORT - FIRST_PORT + 1))
    if (await bindable(port)) return port
  }
  throw new Error(`no free port between ${FIRST_PORT} and ${LAST_PORT}`)
}

/** A running `varnishd`. */
export interface Varnish {
  readonly url: string
  readonly port: number
  /** `varnishadm` on this instance: `backend.list`, `ban`… */
  admin(...args: string[]): Promise<string>
  /** Whether its backends' probes say healthy, by backend name. */
  backendHealth(): Promise<Map<string, 'healthy' | 'sick'>>
  stop(): Promise<void>
}

/**
 * Starts a real `varnishd` in the foreground on a free port of 127.0.0.1 with `vcl` (the text of
 * a VCL file) and a private working directory, memory storage of `storage` (default 256m); resolves
 * once it answers. Inside a test, it is stopped and its directory removed when the test finishes.
 */
export async function startVarnish(vcl: string, storage = '256m'): Promise<Varnish> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-varnish-'))
  const vclPath = join(dir, 'edge.vcl')
  await writeFile(vclPath, vcl)
  const port = await freePort()
  const workdir = join(dir, 'work')
  const child = spawn(
    'varnishd',
    [
      ...['-F', '-j', 'none', '-n', workdir, '-a', `127.0.0.1:${port}`, '-f', vclPath],
      ...['-s', `malloc,${storage}`, '-p', 'thread_pool_min=50', '-p', 'thread_pool_max=2000'],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  child.on('error', (error) => {
    stderr += `\n${error.message}`
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    // A spawn that failed emits 'error' and never 'exit'.
    child.once('error', () => child.pid === undefined && resolve())
  })
  const admin = async (...args: string[]) =>
    (await execFileAsync('varnishadm', ['-n', workdir, ...args])).stdout
  const varnish: Varnish = {
    url: `http://127.0.0.1:${port}`,
    port,
    admin,
    async backendHealth() {
      const health = new Map<string, 'healthy' | 'sick'>()
      for (const line of (await admin('backend.list')).split('\n').slice(1)) {
        const [name, , , state] = line.trim().split(/\s+/)
        if (name && (state === 'healthy' || state === 'sick')) health.set(name, state)
      }
      return health
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
      await rm(dir, { recursive: true, force: true })
    },
  }
  cleanUpAfterTest(varnish.stop)
  // Compiling the VCL and starting the child take seconds when the machine is busy.
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break
    const answered = await fetch(`${varnish.url}/`, { method: 'OPTIONS' }).then(
      () => true,
      () => false,
    )
    if (answered) return varnish
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await varnish.stop()
  throw new Error(`varnishd did not start: ${stderr.trim().split('\n').slice(-5).join(' / ')}`)
}
