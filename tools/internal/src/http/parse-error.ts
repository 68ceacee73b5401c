import type { IncomingMessage } from 'node:http'

/** Event emitted on a request in flight whose connection the parser refused (see requestBody). */
export const PARSE_ERROR: unique symbol = Symbol('sluice.parseError')

/** The parser's refusal of a request in flight, if any: its body will never complete. */
export function parseErrorOf(req: IncomingMessage): Error | undefined {
  return (req as IncomingMessage & { [PARSE_ERROR]?: Error })[PARSE_ERROR]
}

/**
 * Tells a request in flight that the parser refused the rest of its connection (a malformed
 * chunked body): kept for {@link parseErrorOf}, and emitted as {@link PARSE_ERROR}.
 */
export function reportParseError(req: IncomingMessage, error: Error): void {
  Object.assign(req, { [PARSE_ERROR]: error })
  req.emit(PARSE_ERROR, error)
}
