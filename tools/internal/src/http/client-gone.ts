import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * Calls `onGone` once when the client of a response that is being held (a GET waiting for
 * content, a live reader, a long generation) goes away: its connection closes, or it
 * half-closes. Servers made by `hardenServer` keep half-closed connections open so that a client
 * that shuts its side after a complete upload still gets its answer; for a response held open, a
 * half-close means nobody will read it. The response is destroyed (there is nobody to answer, and
 * the connection must not linger half-open), then `onGone` stops the work done for it. Returns a
 * function that stops watching.
 */
export function whenClientLeaves(
  req: IncomingMessage,
  res: ServerResponse,
  onGone: () => void,
): () => void {
  // HTTP/2 streams close on their own; their `socket` is the whole session's.
  const socket = req.httpVersionMajor === 1 ? req.socket : undefined
  let watching = true
  const stop = () => {
    watching = false
    res.off('close', gone)
    socket?.off('end', gone)
  }
  const gone = () => {
    if (!watching) return
    stop()
    res.destroy()
    onGone()
  }
  if (res.destroyed || res.writableEnded || socket?.readableEnded === true) {
    queueMicrotask(gone)
    return stop
  }
  res.once('close', gone)
  socket?.once('end', gone)
  return stop
}
