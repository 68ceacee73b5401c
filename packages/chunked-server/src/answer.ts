import type { ServerResponse } from 'node:http'
import type { ChunkedServerError } from './errors.js'

/** Answers with a short plain-text reason; cuts a response whose head was already sent. */
export function answer(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${message}\n`)
}

/** Answers a refusal with its status and reason. */
export function refuse(res: ServerResponse, error: ChunkedServerError, prefix = ''): void {
  answer(res, error.status, `${prefix}${error.message}`)
}
