import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * Answers GET/HEAD of a small file held in memory (a demo page, its script), always revalidated;
 * other methods get `405` with `Allow`.
 */
export function sendAsset(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  type: string,
): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('use GET\n')
    return
  }
  res.writeHead(200, {
    'Content-Type': `${type}; charset=utf-8`,
    'Content-Length': body.length,
    'Cache-Control': 'no-cache',
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}
