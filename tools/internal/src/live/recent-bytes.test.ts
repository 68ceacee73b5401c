import { describe, expect, it } from 'vitest'
import { RecentBytes } from './index.js'

describe('RecentBytes', () => {
  it('keeps the newest chunks from a start position and reads within one chunk', () => {
    const recent = new RecentBytes(8, 100)
    expect(recent.read(100, 4)).toBeUndefined()
    recent.push([Buffer.from('abcd'), Buffer.from('efgh')])
    expect(recent.end).toBe(108)
    expect(recent.read(99, 4)).toBeUndefined()
    expect(recent.read(102, 10)?.toString()).toBe('cd')
    expect(recent.read(104, 2)?.toString()).toBe('ef')
    recent.push([Buffer.from('ijkl')])
    // 'abcd' is dropped: 8 bytes or more remain without it.
    expect(recent.read(103, 1)).toBeUndefined()
    expect(recent.read(104, 8)?.toString()).toBe('efgh')
    expect(recent.read(110, 8)?.toString()).toBe('kl')
    expect(recent.read(112, 1)).toBeUndefined()
  })
})
