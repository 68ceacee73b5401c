import { describe, expect, it } from 'vitest'
import { parseByteRange } from './index.js'

describe('parseByteRange', () => {
  it('reads first-last, open-ended and suffix ranges, clamped to the size', () => {
    expect(parseByteRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 })
    expect(parseByteRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 })
    expect(parseByteRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 })
    expect(parseByteRange('bytes=-500', 100)).toEqual({ start: 0, end: 99 })
    expect(parseByteRange('bytes=50-5000', 100)).toEqual({ start: 50, end: 99 })
  })

  it('answers unsatisfiable past the end and ignores what it does not support', () => {
    expect(parseByteRange('bytes=100-', 100)).toBe('unsatisfiable')
    expect(parseByteRange('bytes=-0', 100)).toBe('unsatisfiable')
    expect(parseByteRange(undefined, 100)).toBeUndefined()
    expect(parseByteRange('bytes=0-1,5-6', 100)).toBeUndefined()
    expect(parseByteRange('items=0-1', 100)).toBeUndefined()
    expect(parseByteRange('bytes=x-1', 100)).toBeUndefined()
    // Overlapping ranges are one range once combined.
    expect(parseByteRange('bytes=0-5,3-9', 100)).toEqual({ start: 0, end: 9 })
  })
})
