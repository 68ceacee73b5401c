import type { IncomingMessage, ServerResponse } from 'node:http'
import { whenClientLeaves } from '@sluice/internal/http'
import type { Ingest } from './ingest.js'

const READ_SIZE = 64 * 1024

/** node:http's response has `destroyed`; HTTP/2's compatibility response has its stream's. */
function isClosed(res: ServerResponse): boolean {
  const stream = (res as { stream?: { destroyed: boolean } }).stream
  return res.destroyed === true || stream?.destroyed === true || res.writableEnded
}

/** Resolves on the next thing that can change what a live reader does. */
function nextEvent(ingest: Ingest, res: ServerResponse, waitForDrain: boolean): Promise<void> {
  // A response that closed before we listen would never say so again.
  if (isClosed(res)) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      ingest.off('data', done).off('end', done).off('abort', done)
      res.off('drain', done).off('close', done)
      resolve()
    }
    if (waitForDrain) res.once('drain', done)
    else ingest.once('data', done).once('end', done).once('abort', done)
    res.once('close', done)
  })
}

/**
 * Sends an object that is still arriving: everything stored so far, then each chunk as it lands,
 * until the ingest ends. The storage is the buffer, read at this reader's own position (through
 * the in-memory tail, or blocks shared by all readers), so a slow reader holds at most one 64 KiB
 * block and never loses a byte; it waits on events, never polls. An aborted ingest (or DELETE) destroys the response: the client sees an incomplete
 * chunked body, never a clean end.
 */
export async function streamLive(
  ingest: Ingest,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const reader = ingest.openReader()
  // A reader that half-closes is gone too: nobody will read what comes next.
  const stopWatching = whenClientLeaves(req, res, () => {})
  try {
    let position = 0
    while (!isClosed(res)) {
      if (position < ingest.written) {
        const length = Math.min(READ_SIZE, ingest.written - position)
        const bytes = ingest.readTail(position, length) ?? (await reader.read(position, length))
        if (bytes.length === 0)
          throw new Error(`${ingest.key}: stored data is shorter than announced`)
        position += bytes.length
        if (!res.write(bytes)) await nextEvent(ingest, res, true)
        continue
      }
      if (ingest.state === 'complete') {
        res.end()
        return
      }
      if (ingest.state === 'aborted') {
        res.destroy(new Error(`${ingest.key}: upload aborted`))
        return
      }
      await nextEvent(ingest, res, false)
    }
  } finally {
    stopWatching()
    await reader.close()
  }
}
