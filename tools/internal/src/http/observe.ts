import { appendFileSync, closeSync, openSync, writeSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { rawPathOf } from '../fs/beneath.js'
import type { Metrics } from './metrics.js'
import { bodyBytesReceived } from './request-body.js'

/**
 * One request as it ended: what an access log writes and metrics count. The path is given
 * without its query, so that a token passed as `?token=` never reaches a log.
 */
export interface CompletedRequest {
  /** When it started, ISO 8601. */
  readonly time: string
  readonly method: string
  readonly path: string
  /** The status answered; 0 when the client went away before any answer. */
  readonly status: number
  /** Bytes of the request's body read by the server (HTTP), or read from the connection (a session). */
  readonly bytesIn: number
  /** Bytes written to the connection (headers and body). */
  readonly bytesOut: number
  readonly durationMs: number
  readonly remote: string | undefined
}

/** Watches requests: when they start, and what they cost once answered. */
export interface RequestObserver {
  started?(req: IncomingMessage): void
  finished(request: CompletedRequest): void
}

/** Observers called in turn; undefined when there are none. */
export function observers(
  ...list: ReadonlyArray<RequestObserver | undefined>
): RequestObserver | undefined {
  const present = list.filter((observer) => observer !== undefined)
  if (present.length === 0) return undefined
  return {
    started: (req) => {
      for (const observer of present) observer.started?.(req)
    },
    finished: (request) => {
      for (const observer of present) observer.finished(request)
    },
  }
}

/**
 * Counts what an exchange on `socket` costs from now on, and reports it with `finish(status)`.
 * For HTTP/2 the counts are those of the whole session while the stream lasted (approximate).
 */
export function measureExchange(
  req: IncomingMessage,
  socket: Duplex & {
    bytesRead?: number | undefined
    bytesWritten?: number | undefined
    remoteAddress?: string | undefined
  },
): (status: number) => CompletedRequest {
  const started = performance.now()
  const time = new Date().toISOString()
  const read = socket.bytesRead ?? 0
  const written = socket.bytesWritten ?? 0
  // Read now: a socket that has closed no longer knows its peer.
  const remote = socket.remoteAddress
  return (status) => ({
    time,
    method: req.method ?? 'GET',
    path: rawPathOf(req.url),
    status,
    bytesIn: (socket.bytesRead ?? 0) - read,
    bytesOut: (socket.bytesWritten ?? 0) - written,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
    remote,
  })
}

/** Reports a request to `observer` once its response closes. */
export function observeRequest(
  req: IncomingMessage,
  res: ServerResponse,
  observer: RequestObserver,
): void {
  observer.started?.(req)
  const finish = measureExchange(req, req.socket)
  res.once('close', () => {
    const request = finish(res.headersSent ? res.statusCode : 0)
    observer.finished({ ...request, bytesIn: bodyBytesReceived(req) })
  })
}

/**
 * The HTTP metrics every sluice server has: requests by method and status, requests in flight,
 * bytes received and sent.
 */
export function httpMetrics(metrics: Metrics): RequestObserver {
  const requests = metrics.counter('requests_total', 'Requests answered, by method and status.')
  const inFlight = metrics.gauge('requests_in_flight', 'Requests being received or answered now.')
  const received = metrics.counter('received_bytes_total', 'Bytes of request bodies received.')
  const sent = metrics.counter('sent_bytes_total', 'Bytes of responses sent.')
  return {
    started: () => inFlight.inc(),
    finished: (request) => {
      inFlight.dec()
      requests.inc({ method: request.method, status: request.status })
      received.inc({}, request.bytesIn)
      sent.inc({}, request.bytesOut)
    },
  }
}

/** A JSON-lines access log, to a file (appended to) or standard output (`-`). */
export interface AccessLog extends RequestObserver {
  close(): void
}

let stdoutErrorsReported = false

/**
 * Writes one JSON line per request (time, method, path, status, bytes in and out, duration,
 * remote address) to `destination`: a file, appended to, or `-` for standard output. Lines are
 * written as each request ends, synchronously (one small append, as nginx does): a line is in
 * the file once its answer is sent, and none is lost when the process exits right after closing
 * the server. Requests that end after `close()` (cut at shutdown) are still appended.
 * @throws the file system's error when the file cannot be opened
 */
export function accessLog(destination: string): AccessLog {
  const line = (request: CompletedRequest) => `${JSON.stringify(request)}\n`
  const report = (error: Error) => process.stderr.write(`access log: ${error.message}\n`)
  if (destination === '-') {
    if (!stdoutErrorsReported) process.stdout.on('error', report)
    stdoutErrorsReported = true
    return { finished: (request) => process.stdout.write(line(request)), close() {} }
  }
  let fd: number | undefined = openSync(destination, 'a')
  return {
    finished: (request) => {
      try {
        if (fd === undefined) appendFileSync(destination, line(request))
        else writeSync(fd, line(request))
      } catch (error) {
        report(error as Error)
      }
    },
    close: () => {
      if (fd !== undefined) closeSync(fd)
      fd = undefined
    },
  }
}
