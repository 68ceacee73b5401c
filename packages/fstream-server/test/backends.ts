import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { missingNatsServer, type Nats, startNats, tempDir } from '@sluice/test-utils'
import { FstreamServerError } from '../src/errors.js'
import type { ResourceStorage } from '../src/index.js'
import { JetStreamStorage } from '../src/storage/jetstream.js'

/** The storages every fstream suite runs on. */
export const BACKENDS = ['files', 'JetStream'] as const
export type Backend = (typeof BACKENDS)[number]

/** A server's storage in a test, and the test's own hand on its resources. */
export interface TestBackend {
  /** Options of createFstreamServer. */
  readonly options: { readonly root: string } | { readonly storage: ResourceStorage }
  /** The same storage, as fstream-server's command line takes it. */
  readonly cliArgs: readonly string[]
  /** What a resource holds now (undefined: none), read without a server. */
  stored(path: string): Promise<Buffer | undefined>
  /** Makes a finished resource holding `data`, without a server. */
  seed(path: string, data: string | Buffer): Promise<void>
  cleanup(): Promise<void>
}

let nats: Promise<Nats> | undefined
let streams = 0

/** Why `backend` cannot be tested here, if it cannot. */
export function backendMissing(backend: Backend): string | undefined {
  return backend === 'JetStream' ? missingNatsServer() : undefined
}

/** Stops the NATS node of the JetStream backends, if one was started: call it in `afterAll`. */
export async function closeBackends(): Promise<void> {
  const started = nats
  nats = undefined
  await (await started)?.stop()
}

/** One NATS node for every JetStream backend of a test file (see {@link closeBackends}). */
function natsNode(): Promise<Nats> {
  nats ??= startNats(1)
  return nats
}

async function readAll(storage: ResourceStorage, path: string): Promise<Buffer | undefined> {
  const content = await storage.representation(path)
  if (content instanceof FstreamServerError) return undefined
  if (content.size === 0) return Buffer.alloc(0)
  const chunks: Buffer[] = []
  for await (const chunk of content.open(0, content.size - 1)) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** A fresh storage of `backend` for one server (a new directory, or a new stream). */
export async function testBackend(backend: Backend): Promise<TestBackend> {
  if (backend === 'files') {
    const dir = await tempDir('fstream-backend-')
    return {
      options: { root: dir.path },
      cliArgs: ['--root', dir.path],
      stored: (path) => readFile(join(dir.path, path)).catch(() => undefined),
      seed: async (path, data) => {
        await mkdir(dirname(join(dir.path, path)), { recursive: true })
        await writeFile(join(dir.path, path), data)
      },
      cleanup: () => dir.remove(),
    }
  }
  const node = await natsNode()
  const stream = `TEST${++streams}_${process.pid}`
  // The default lease: a session whose event loop a flood of frames holds for seconds (100,000
  // fragments on a loaded machine) must not lose its lease to the test's own load.
  const settings = { servers: [...node.urls], stream, leaseMs: 10_000 }
  // The test's own connection to the stream; the server makes its own from `storage`.
  const own = new JetStreamStorage(settings)
  await own.init()
  return {
    options: { storage: new JetStreamStorage(settings) },
    cliArgs: ['--nats', node.urls.join(','), '--nats-stream', stream, '--nats-lease', '10000'],
    stored: (path) => readAll(own, path),
    seed: async (path, data) => {
      const target = await own.openAppend(path, undefined)
      if (target instanceof FstreamServerError) throw target
      await target.write([Buffer.from(data)])
      await target.sync()
      await target.close(true)
    },
    cleanup: () => own.close(),
  }
}
