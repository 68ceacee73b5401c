import { resolveUnderRoot } from '@sluice/internal-http'

/** Directories of the store that no key may name. */
export const RESERVED = ['.partial', '.meta'] as const

/**
 * The object key of a request: its URL path only (the query never takes part, so `?x=../..`
 * reaches nothing), decoded and checked so that it names a file below the root. Keys whose first
 * segment starts with a dot are refused (the store keeps its own state there). Returns undefined
 * for a key that cannot be stored.
 */
export function objectKey(
  root: string,
  url: string | undefined,
): { key: string; path: string } | undefined {
  const pathname = new URL(url ?? '/', 'http://localhost').pathname
  const path = resolveUnderRoot(root, pathname)
  if (path === undefined) return undefined
  const key = decodeURIComponent(pathname)
  if (key.startsWith('/.')) return undefined
  return { key, path }
}
