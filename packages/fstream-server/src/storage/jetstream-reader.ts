import type { JetStreamClient, JsMsg } from '@nats-io/jetstream'
import { ResourceGoneError, StorageError } from '../errors.js'
import { endOf, readMessage } from './jetstream-messages.js'

/** Where a read of a resource's subject starts and stops. */
export interface ReadRange {
  readonly js: JetStreamClient
  readonly stream: string
  readonly subject: string
  /** Stream sequence of the first message to look at (none before it holds a wanted byte). */
  readonly startSeq: number
  /** Offset of the first byte wanted; earlier bytes of the first messages are skipped. */
  readonly from: number
  /** Offset of the last byte wanted (a ranged GET); undefined: follow until the append ends. */
  readonly until?: number
  readonly signal: AbortSignal
}

/**
 * Messages a follower's consumer pulls ahead at most (each at most 896 KiB). A count, not
 * `max_bytes`: a pull of bytes that ends with room for less than a message waits out its expiry
 * before the next pull, a few messages per second.
 */
const MAX_BUFFERED = 4
/** Idle heartbeat of the consumers: a consumer silent three times longer is made again. */
const IDLE_MS = 1000

/**
 * The messages of one subject from a stream sequence on, through an ordered consumer that reads
 * at the caller's pace (at most 4 messages, 3.5 MiB, pulled ahead: a slow follower holds back its own consumer,
 * nobody else). nats-server 2.9 leaves an ordered consumer silent for good when the node hosting
 * it dies: one that gets neither a message nor a heartbeat for three heartbeats is made again from
 * the next sequence, so a reader sees every message once across node failures.
 */
async function* subjectMessages(range: ReadRange): AsyncGenerator<JsMsg> {
  const { js, stream, subject, signal } = range
  let next = range.startSeq
  while (!signal.aborted) {
    let consumer: Awaited<ReturnType<JetStreamClient['consumers']['get']>>
    try {
      consumer = await js.consumers.get(stream, {
        // One subject as a string: 2.9 has the single filter_subject only.
        filter_subjects: subject,
        opt_start_seq: next,
        inactive_threshold: 30_000,
      })
    } catch {
      // A stream without a leader for a moment (failover): try again.
      await new Promise((resolve) => setTimeout(resolve, 250))
      continue
    }
    const messages = await consumer.consume({
      max_messages: MAX_BUFFERED,
      idle_heartbeat: IDLE_MS,
      expires: 5 * IDLE_MS,
    })
    let heard = Date.now()
    let silent = false
    const stop = () => messages.stop()
    signal.addEventListener('abort', stop, { once: true })
    if (signal.aborted) stop()
    const watch = (async () => {
      for await (const status of messages.status()) {
        if (status.type === 'heartbeat') heard = Date.now()
        if (status.type === 'heartbeats_missed') {
          silent = true
          messages.stop()
        }
      }
    })()
    watch.catch(() => {})
    const watchdog = setInterval(() => {
      if (Date.now() - heard > 3 * IDLE_MS) {
        silent = true
        messages.stop()
      }
    }, IDLE_MS)
    try {
      for await (const message of messages) {
        heard = Date.now()
        next = message.seq + 1
        yield message
      }
    } finally {
      clearInterval(watchdog)
      signal.removeEventListener('abort', stop)
      messages.stop()
      consumer.delete().catch(() => {})
    }
    if (!silent) return
  }
}

const inconsistent = (subject: string, what: string) =>
  new StorageError(
    `the resource on ${subject} is inconsistent: ${what} (two appenders at once, which ` +
      'nats-server before 2.11 cannot always prevent)',
  )

/**
 * The bytes of a resource from `from`, checked as they come: every data message must start where
 * the previous one ended and come from the appender of the last fence, so that two appenders
 * writing at once (possible on a clustered nats-server before 2.11) fail the read loudly instead
 * of mixing their bytes. Ends at `until`, or when a finished append's end is reached; throws
 * `ResourceGoneError` at a deletion, or when the bytes wanted were removed by the stream's limits.
 */
export async function* readResource(range: ReadRange): AsyncGenerator<Buffer> {
  const { subject, until } = range
  let position = range.from
  let expected: number | undefined
  let writer: string | undefined
  if (until !== undefined && until < position) return
  for await (const raw of subjectMessages(range)) {
    const message = readMessage(raw.seq, raw.headers, raw.data)
    if (message.kind === 'deleted') throw new ResourceGoneError('the resource was deleted')
    if (expected === undefined && message.offset > position) {
      throw new ResourceGoneError(
        `bytes ${position} to ${message.offset - 1} were removed by the stream's limits`,
      )
    }
    if (expected !== undefined && message.offset !== expected) {
      throw inconsistent(
        subject,
        `byte ${expected} expected, message ${message.seq} is at ${message.offset}`,
      )
    }
    if (message.kind === 'fence') {
      writer = message.writer
      expected = message.offset
      continue
    }
    if (message.kind === 'end') {
      expected = message.offset
      // The end of an append only if nothing came after it (a later append may go on).
      if (until === undefined && raw.info.pending === 0) return
      continue
    }
    writer ??= message.writer
    if (message.writer !== writer) {
      throw inconsistent(
        subject,
        `message ${message.seq} comes from another appender than the fence's`,
      )
    }
    const end = endOf(message)
    expected = end
    if (end <= position) continue
    const data = Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength)
    const last = until === undefined ? end : Math.min(end, until + 1)
    yield data.subarray(position - message.offset, last - message.offset)
    position = last
    if (until !== undefined && position > until) return
  }
}
