import { NAME_MAX, rawPathOf, relativePathOf } from '@sluice/internal/fs'

/** Directories of the store that no key may name. */
export const RESERVED = ['.partial', '.meta'] as const

/** `.meta/<key>.json` must fit in a file name too. */
const MAX_SEGMENT_BYTES = NAME_MAX - '.json'.length

/**
 * The object key of a request target: its path only (the query never takes part, so `?x=../..`
 * reaches nothing), as the client sent it. Returns undefined for a key that cannot be stored:
 * `.` or `..` segments (raw or percent-encoded: they are refused, not resolved), empty segments,
 * encoded slashes or backslashes, NUL, a segment longer than 250 bytes, the root, and keys whose
 * first segment starts with a dot (the store keeps its own state there).
 */
export function objectKey(target: string | undefined): string | undefined {
  const relative = relativePathOf(rawPathOf(target), MAX_SEGMENT_BYTES)
  if (relative === undefined || relative.startsWith('.')) return undefined
  return `/${relative}`
}
