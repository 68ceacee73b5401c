import cluster from 'node:cluster'
import { randomUUID } from 'node:crypto'
import { type MetricsSnapshot, mergeMetrics } from './metrics.js'

interface Ask {
  readonly sluice: 'metrics-ask'
  readonly id: string
}
interface Snapshot {
  readonly sluice: 'metrics-snapshot'
  readonly id: string
  readonly snapshot: MetricsSnapshot
}
type Message = Ask | Snapshot

const isMessage = (message: unknown): message is Message =>
  typeof message === 'object' && message !== null && 'sluice' in message

/** How long a scrape waits for the other workers before it answers with what it has. */
const GATHER_MS = 2_000

/**
 * In a cluster's primary: answers a worker's request for the whole server's metrics by asking
 * every worker for its snapshot (each answers with `snapshot()`) and sending back their sum.
 */
export function aggregateClusterMetrics(): void {
  cluster.on('message', (asker, message: unknown) => {
    if (!isMessage(message) || message.sluice !== 'metrics-ask') return
    const workers = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined)
    const snapshots: MetricsSnapshot[] = []
    let pending = workers.length
    const reply = () => {
      clearTimeout(timer)
      cluster.off('message', collect)
      const answer: Snapshot = {
        sluice: 'metrics-snapshot',
        id: message.id,
        snapshot: mergeMetrics(snapshots),
      }
      if (asker.isConnected()) asker.send(answer)
    }
    const timer = setTimeout(reply, GATHER_MS)
    const collect = (_worker: unknown, answer: unknown) => {
      if (!isMessage(answer) || answer.sluice !== 'metrics-snapshot' || answer.id !== message.id)
        return
      snapshots.push(answer.snapshot)
      if (--pending === 0) reply()
    }
    cluster.on('message', collect)
    for (const worker of workers)
      worker.send({ sluice: 'metrics-ask', id: message.id } satisfies Ask)
  })
}

/**
 * The metrics of the whole server. In a worker of a cluster whose primary runs
 * {@link aggregateClusterMetrics}, the sum of every worker's; elsewhere this process's own.
 * A worker also answers the primary's requests for its own `snapshot()`.
 */
export function clusterSnapshots(snapshot: () => MetricsSnapshot): () => Promise<MetricsSnapshot> {
  const send = process.send?.bind(process)
  if (!cluster.isWorker || send === undefined) return async () => snapshot()
  const waiting = new Map<string, (snapshot: MetricsSnapshot) => void>()
  process.on('message', (message: unknown) => {
    if (!isMessage(message)) return
    if (message.sluice === 'metrics-ask') {
      send({ sluice: 'metrics-snapshot', id: message.id, snapshot: snapshot() } satisfies Snapshot)
    } else {
      waiting.get(message.id)?.(message.snapshot)
    }
  })
  return () =>
    new Promise((resolve) => {
      const id = randomUUID()
      const done = (merged: MetricsSnapshot) => {
        clearTimeout(timer)
        waiting.delete(id)
        resolve(merged)
      }
      // No primary answering: this worker's own figures rather than nothing.
      const timer = setTimeout(() => done(snapshot()), GATHER_MS * 2)
      waiting.set(id, done)
      send({ sluice: 'metrics-ask', id } satisfies Ask)
    })
}
