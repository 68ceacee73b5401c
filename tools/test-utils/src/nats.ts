import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cleanUpAfterTest } from './cleanup.js'
import { missingTool } from './tool.js'
import { freePort } from './varnish.js'

/** Why `nats-server` cannot run here (the tests that need it skip, or fail under SLUICE_REQUIRE_TOOLS). */
export function missingNatsServer(): string | undefined {
  return missingTool('nats-server', ['--version'])
}

/** One `nats-server` process with JetStream, on loopback. */
export interface NatsNode {
  readonly name: string
  /** `nats://127.0.0.1:PORT`: what clients connect to. */
  readonly url: string
  /** `http://127.0.0.1:PORT`: its monitoring endpoints (`/healthz`, `/jsz`). */
  readonly monitor: string
  readonly pid: number | undefined
  /** Whether the process runs. */
  readonly running: boolean
  /** `kill -9`: no goodbye to clients or to the cluster. */
  kill(): Promise<void>
  /** Starts it again with the same name, ports and store (after `kill` or `stop`). */
  restart(): Promise<void>
  /** SIGTERM, and waits for it to exit. */
  stop(): Promise<void>
}

/** Real `nats-server` processes: one node, or a cluster of them. */
export interface Nats {
  readonly nodes: readonly NatsNode[]
  /** Every node's client URL, for `servers`. */
  readonly urls: readonly string[]
  /** The node leading a stream's replicas now (from the nodes' `/jsz`), if one does. */
  streamLeader(stream: string): Promise<NatsNode | undefined>
  /** Stops every node and removes their store directories. */
  stop(): Promise<void>
}

interface Jsz {
  readonly account_details?: ReadonlyArray<{
    readonly stream_detail?: ReadonlyArray<{
      readonly name: string
      readonly cluster?: { readonly leader?: string }
    }>
  }>
}

interface NodePorts {
  readonly client: number
  readonly monitor: number
  readonly cluster: number
}

/** Resolves once the node's monitoring port says JetStream is ready (`/healthz`). */
async function healthy(monitor: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) break
    const ok = await fetch(`http://127.0.0.1:${monitor}/healthz`).then(
      (res) => res.ok,
      () => false,
    )
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(
    `nats-server did not become healthy: ${log().trim().split('\n').slice(-5).join(' / ')}`,
  )
}

async function launch(size: number): Promise<{ dir: string; nodes: NatsNode[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-nats-'))
  const ports: NodePorts[] = []
  for (let i = 0; i < size; i++) {
    ports.push({ client: await freePort(), monitor: await freePort(), cluster: await freePort() })
  }
  const nodes = await Promise.all(
    ports.map(async (own, i) => {
      const name = `n${i + 1}`
      const routes = ports
        .filter((other) => other !== own)
        .map((other) => `"nats-route://127.0.0.1:${other.cluster}"`)
      const config = [
        `server_name: ${name}`,
        `listen: "127.0.0.1:${own.client}"`,
        `http: "127.0.0.1:${own.monitor}"`,
        `jetstream { store_dir: ${JSON.stringify(join(dir, name))} }`,
        ...(size > 1
          ? [
              'cluster {',
              '  name: sluice',
              `  listen: "127.0.0.1:${own.cluster}"`,
              `  routes: [${routes.join(', ')}]`,
              '}',
            ]
          : []),
        '',
      ].join('\n')
      const configPath = join(dir, `${name}.conf`)
      await writeFile(configPath, config)
      return natsNode(name, configPath, own)
    }),
  )
  const started = await Promise.allSettled(nodes.map((node) => node.restart()))
  const failed = started.find((result) => result.status === 'rejected')
  if (failed !== undefined) {
    await Promise.all(nodes.map((node) => node.stop()))
    await rm(dir, { recursive: true, force: true })
    throw failed.reason
  }
  return { dir, nodes }
}

/**
 * Starts `size` real `nats-server` processes with JetStream on free loopback ports, each with its
 * own store directory, routed to each other as one cluster when `size` > 1 (a JetStream cluster
 * needs three nodes for R3); resolves once every node is healthy. Inside a test, everything is
 * stopped and removed when the test finishes.
 */
export async function startNats(size = 1): Promise<Nats> {
  // A port found free can be taken by another process before nats-server binds it: then the
  // whole cluster starts again on fresh ports, a few times.
  let launched: { dir: string; nodes: NatsNode[] } | undefined
  for (let attempt = 1; launched === undefined; attempt++) {
    try {
      launched = await launch(size)
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test((error as Error).message)) throw error
    }
  }
  const { dir, nodes } = launched
  const nats: Nats = {
    nodes,
    urls: nodes.map((node) => node.url),
    async streamLeader(stream) {
      for (const node of nodes) {
        if (!node.running) continue
        const jsz = (await fetch(`${node.monitor}/jsz?accounts=true&streams=true`)
          .then((res) => res.json())
          .catch(() => ({}))) as Jsz
        for (const account of jsz.account_details ?? []) {
          const leader = account.stream_detail?.find((detail) => detail.name === stream)?.cluster
            ?.leader
          if (leader !== undefined) return nodes.find((candidate) => candidate.name === leader)
        }
      }
      return undefined
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()))
      await rm(dir, { recursive: true, force: true })
    },
  }
  cleanUpAfterTest(nats.stop)
  return nats
}

function natsNode(name: string, configPath: string, ports: NodePorts): NatsNode {
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  let output = ''
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null
  const end = async (signal: NodeJS.Signals) => {
    if (running()) child?.kill(signal)
    await exited
  }
  return {
    name,
    url: `nats://127.0.0.1:${ports.client}`,
    monitor: `http://127.0.0.1:${ports.monitor}`,
    get pid() {
      return child?.pid
    },
    get running() {
      return running()
    },
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
    async restart() {
      if (running()) return
      output = ''
      const started = spawn('nats-server', ['-c', configPath], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      started.on('error', (error) => {
        output += `\n${error.message}`
      })
      started.stderr.setEncoding('utf8')
      started.stderr.on('data', (chunk: string) => {
        output = (output + chunk).slice(-20_000)
      })
      exited = new Promise((resolve) => {
        started.once('exit', () => resolve())
        // A spawn that failed emits 'error' and never 'exit'.
        started.once('error', () => started.pid === undefined && resolve())
      })
      child = started
      await healthy(ports.monitor, started, () => output)
    },
  }
}
