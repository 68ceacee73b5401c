import type { FileHandle } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'

/** Bytes read from the file per write: a quarter of the syscalls of 256 KiB stream reads. */
const LARGE = 1024 * 1024
/** Large buffers in use at once (32 MiB): a slow client holds its buffer until the kernel takes it. */
const LARGE_BUFFERS = 32
/** What each further response reads with, so that a thousand slow readers cost 64 MiB, not 1 GiB. */
const SMALL = 64 * 1024
/** Large buffers kept between responses. */
const IDLE_BUFFERS = 8
const idle: Buffer[] = []
let largeInUse = 0

/** A read buffer for a body of `length` bytes: one of 64 KiB or less gets its own size. */
function takeBuffer(length: number): Buffer {
  if (length <= SMALL) return Buffer.allocUnsafeSlow(Math.max(1, length))
  if (largeInUse >= LARGE_BUFFERS) return Buffer.allocUnsafeSlow(SMALL)
  largeInUse++
  return idle.pop() ?? Buffer.allocUnsafeSlow(LARGE)
}

/** Returns a buffer to the budget; to the pool only when no write may still hold it. */
function giveBack(buffer: Buffer, reusable: boolean): void {
  if (buffer.length !== LARGE) return
  largeInUse--
  if (reusable && idle.length < IDLE_BUFFERS) idle.push(buffer)
}

/**
 * Resolves when `chunk` has been handed to the kernel: true, or false when the client left. An
 * HTTP/1 response queued behind a pipelined one never emits 'close' when the connection dies
 * (Node 20), so its connection's 'close' counts too.
 */
function written(res: ServerResponse, chunk: Buffer): Promise<boolean> {
  const connection = res.req?.httpVersionMajor === 1 ? res.req.socket : undefined
  if (connection?.destroyed) return Promise.resolve(false)
  return new Promise((resolve) => {
    const gone = () => {
      connection?.off('close', gone)
      res.off('close', gone)
      resolve(false)
    }
    res.once('close', gone)
    connection?.once('close', gone)
    res.write(chunk, (error) => {
      res.off('close', gone)
      connection?.off('close', gone)
      resolve(error == null)
    })
  })
}

/**
 * Sends bytes `start` to `end` (inclusive) of an open file as the whole body of `res` (node:http,
 * or node:http2's compatibility response), whose status and headers are set and not sent yet;
 * resolves once the body is sent or the client left. The caller keeps the file open until then.
 *
 * One buffer per response, reused for every read, each read written once the previous write
 * reached the kernel: one `pread` and one socket write per MiB, no allocation per chunk, no
 * stream in between. 1 MiB buffers come from a pool of 32; past them (many slow readers at once)
 * responses read 64 KiB at a time. Over HTTP/2 this is also what sends
 * most per syscall: `respondWithFD` reads about 110 KiB at a time and writes each read on its
 * own, at a third of this loop's throughput (measured; see the package README).
 */
export async function sendFile(
  res: ServerResponse,
  file: FileHandle,
  start: number,
  end: number,
): Promise<void> {
  const buffer = takeBuffer(end + 1 - start)
  let reusable = false
  try {
    let position = start
    while (position <= end) {
      let bytesRead: number
      try {
        ;({ bytesRead } = await file.read(
          buffer,
          0,
          Math.min(buffer.length, end + 1 - position),
          position,
        ))
      } catch (error) {
        // Before the headers went out the caller can still answer (500); after, the body is cut.
        if (res.headersSent) res.destroy(error as Error)
        throw error
      }
      if (bytesRead === 0) {
        // The file shrank after its size was announced: the body must end abnormally.
        res.destroy(new Error(`file ended at byte ${position} of ${end + 1}`))
        return
      }
      // A client that left may still have the buffer in a cancelled write: it is not reused.
      if (!(await written(res, buffer.subarray(0, bytesRead)))) return
      position += bytesRead
    }
    reusable = true
    res.end()
  } finally {
    giveBack(buffer, reusable)
  }
}
