import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { cleanUpAfterTest } from './cleanup.js'
import { missingTool } from './tool.js'
import { freePort } from './varnish.js'

const execFileAsync = promisify(execFile)

/** Why a Swift with s3api cannot run here (the tests that need it skip, or fail under SLUICE_REQUIRE_TOOLS). */
export function missingSwift(): string | undefined {
  return (
    missingTool('swift-proxy-server', ['--help']) ??
    missingTool('swift-ring-builder', []) ??
    missingTool('memcached', ['-h'])
  )
}

/** A one-node OpenStack Swift with the s3api middleware on loopback: a real S3 server. */
export interface SwiftS3 {
  /** `http://127.0.0.1:PORT`: the S3 endpoint (path-style addressing, region us-east-1). */
  readonly endpoint: string
  readonly region: string
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
  /** `kill -9` of the proxy (with its workers): S3 requests fail at once. */
  killProxy(): Promise<void>
  /** Starts the proxy again, and resolves once S3 answers. */
  restartProxy(): Promise<void>
  stop(): Promise<void>
  /** Stops everything at once, synchronously: for a process's 'exit' handler. */
  stopNow(): void
}

const SERVICES = ['object', 'container', 'account'] as const

function serverConfig(dir: string, name: string, port: number, extra: string): string {
  return [
    '[DEFAULT]',
    'bind_ip = 127.0.0.1',
    `bind_port = ${port}`,
    `user = ${userInfo().username}`,
    `swift_dir = ${join(dir, 'etc')}`,
    `devices = ${join(dir, 'srv')}`,
    'mount_check = false',
    'log_level = WARNING',
    extra,
    '[pipeline:main]',
    `pipeline = ${name}`,
    `[app:${name}]`,
    `use = egg:swift#${name.replace('-server', '')}`,
    '',
  ].join('\n')
}

function proxyConfig(dir: string, port: number, memcached: number): string {
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 2
user = ${userInfo().username}
swift_dir = ${join(dir, 'etc')}
log_level = WARNING
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:${memcached}
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
`
}

/** Resolves once something accepts connections on 127.0.0.1:`port` (within 60 s). */
async function listening(port: number): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`nothing listens on port ${port} after 60 s`)
}

/** A child in its own process group, so that its workers end with it. */
function daemon(command: string, args: readonly string[]): ChildProcess {
  const child = spawn(command, args, { stdio: 'ignore', detached: true })
  child.on('error', () => {})
  return child
}

function killGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve()
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    process.kill(-child.pid, signal)
  } catch {
    return Promise.resolve()
  }
  return exited
}

/**
 * Starts a one-node Swift with s3api (memcached, the object, container and account servers, and
 * a proxy with two workers) on free loopback ports with a private directory, as
 * `/work/shared/recipes/swift-s3.sh` does; resolves once S3 answers (10–30 s). Inside a test,
 * everything is stopped and removed when the test finishes.
 */
export async function startSwiftS3(): Promise<SwiftS3> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-swift-'))
  const etc = join(dir, 'etc')
  await mkdir(join(dir, 'srv', 'd1'), { recursive: true })
  await mkdir(etc, { recursive: true })
  const ports = {
    proxy: await freePort(),
    memcached: await freePort(),
    object: await freePort(),
    container: await freePort(),
    account: await freePort(),
  }
  await writeFile(
    join(etc, 'swift.conf'),
    '[swift-hash]\nswift_hash_path_suffix = sluice\nswift_hash_path_prefix = sluice\n' +
      '[storage-policy:0]\nname = Policy-0\ndefault = yes\n',
  )
  for (const service of SERVICES) {
    await writeFile(
      join(etc, `${service}-server.conf`),
      serverConfig(dir, `${service}-server`, ports[service], 'workers = 1'),
    )
    const builder = join(etc, `${service}.builder`)
    await execFileAsync('swift-ring-builder', [builder, 'create', '6', '1', '0'])
    await execFileAsync('swift-ring-builder', [
      builder,
      'add',
      `r1z1-127.0.0.1:${ports[service]}/d1`,
      '100',
    ])
    // Exit code 1 is a warning (one replica, one device).
    await execFileAsync('swift-ring-builder', [builder, 'rebalance']).catch((error: unknown) => {
      if ((error as { code?: number }).code !== 1) throw error
    })
  }
  await writeFile(join(etc, 'proxy-server.conf'), proxyConfig(dir, ports.proxy, ports.memcached))
  const children: ChildProcess[] = [
    daemon('memcached', [
      // memcached refuses to run as root unless told which user to be.
      ...(process.getuid?.() === 0 ? ['-u', 'root'] : []),
      '-l',
      '127.0.0.1',
      '-p',
      String(ports.memcached),
      '-m',
      '64',
    ]),
    ...SERVICES.map((service) =>
      daemon(`swift-${service}-server`, [join(etc, `${service}-server.conf`)]),
    ),
  ]
  let proxy: ChildProcess | undefined
  const endpoint = `http://127.0.0.1:${ports.proxy}`
  const answering = async () => {
    const deadline = Date.now() + 90_000
    while (Date.now() < deadline) {
      const up = await fetch(`${endpoint}/healthcheck`).then(
        (res) => res.ok,
        () => false,
      )
      if (up) return
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    throw new Error('Swift did not answer within 90 s')
  }
  const swift: SwiftS3 = {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test:tester', secretAccessKey: 'testing' },
    killProxy: () => killGroup(proxy, 'SIGKILL'),
    async restartProxy() {
      proxy = daemon('swift-proxy-server', [join(etc, 'proxy-server.conf')])
      await answering()
    },
    stopNow() {
      for (const child of [proxy, ...children]) {
        try {
          if (child?.pid !== undefined && child.exitCode === null)
            process.kill(-child.pid, 'SIGKILL')
        } catch {}
      }
      rmSync(dir, { recursive: true, force: true })
    },
    async stop() {
      await killGroup(proxy, 'SIGTERM')
      await Promise.all(children.map((child) => killGroup(child, 'SIGTERM')))
      await rm(dir, { recursive: true, force: true })
    },
  }
  cleanUpAfterTest(swift.stop)
  try {
    for (const service of SERVICES) await listening(ports[service])
    await swift.restartProxy()
  } catch (error) {
    await swift.stop()
    throw error
  }
  return swift
}
