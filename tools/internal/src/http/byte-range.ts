import parseRange from 'range-parser'

/** An inclusive byte range within a representation of known size. */
export interface ByteRange {
  readonly start: number
  readonly end: number
}

/**
 * Reads a `Range` header against a size with `range-parser`. Returns undefined when the whole
 * representation should be sent (no header, another unit, a malformed header, or several
 * ranges: RFC 9110 §14.2 lets a server ignore them) and 'unsatisfiable' when no byte of the
 * range exists.
 */
export function parseByteRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined
  // range-parser 1.3.0 refuses a suffix longer than the representation (`bytes=-500` of 100
  // bytes), which RFC 9110 §14.1.2 reads as the whole of it. Fixed upstream by
  // jshttp/range-parser#66, not yet released: until then the suffix is clamped here.
  const clamped = header.replace(/([=,]\s*)-(\d+)/g, (spec, before: string, digits: string) =>
    size > 0 && Number(digits) > size ? `${before}0-` : spec,
  )
  const ranges = parseRange(size, clamped, { combine: true })
  if (ranges === -1) return 'unsatisfiable'
  if (ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1) return undefined
  const [range] = ranges
  return range === undefined ? undefined : { start: range.start, end: range.end }
}
