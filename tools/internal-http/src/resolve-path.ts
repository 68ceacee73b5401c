import { resolve, sep } from 'node:path'

/**
 * Maps a URL path (already without its query) to a file below `root`, or undefined when it cannot
 * name one: percent-decoding errors, NUL bytes, `..` segments, backslashes, empty segments and
 * the root itself are refused, so nothing escapes the root whatever the encoding.
 */
export function resolveUnderRoot(root: string, urlPath: string): string | undefined {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return undefined
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return undefined
  const segments = decoded.slice(1).split('/')
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    return undefined
  }
  const base = resolve(root)
  const path = resolve(base, ...segments)
  return path.startsWith(base + sep) ? path : undefined
}
