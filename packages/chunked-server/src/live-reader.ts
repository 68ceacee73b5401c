import { open } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import type { Ingest } from './ingest.js'

const READ_SIZE = 64 * 1024

/** node:http's response has `destroyed`; HTTP/2's compatibility response has its stream's. */
function isClosed(res: ServerResponse): boolean {
  const stream = (res as { stream?: { destroyed: boolean } }).stream
  return res.destroyed === true || stream?.destroyed === true || res.writableEnded
}

/** Resolves on the next thing that can change what a live reader does. */
function nextEvent(ingest: Ingest, res: ServerResponse, waitForDrain: boolean): Promise<void> {
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
 * Sends an object that is still arriving: everything written so far, then each chunk as it
 * lands, until the ingest ends. The file is the buffer, read at this reader's own position, so a
 * slow reader holds one 64 KiB read in memory and never loses a byte; it waits on events, never
 * polls. An aborted ingest (or DELETE) destroys the response: the client sees an incomplete
 * chunked body, never a clean end.
 */
export async function streamLive(ingest: Ingest, res: ServerResponse): Promise<void> {
  const file = await open(ingest.partialPath, 'r')
  try {
    let position = 0
    while (!isClosed(res)) {
      if (position < ingest.written) {
        const length = Math.min(READ_SIZE, ingest.written - position)
        // A fresh buffer per read: res.write() may hold on to it until the socket takes it.
        const { bytesRead, buffer } = await file.read(
          Buffer.allocUnsafe(length),
          0,
          length,
          position,
        )
        if (bytesRead === 0) throw new Error(`${ingest.key}: stored data is shorter than announced`)
        position += bytesRead
        if (!res.write(buffer.subarray(0, bytesRead))) await nextEvent(ingest, res, true)
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
    await file.close()
  }
}
