import { describe, expect, it } from 'vitest'
import { encodeControl, parseControl, parseOffset } from './index.js'

describe('fstream.v1 control messages and offsets', () => {
  it('encodes and parses control messages, refusing anything else', () => {
    expect(parseControl(encodeControl({ type: 'ready', offset: 12 }))).toEqual({
      type: 'ready',
      offset: 12,
    })
    expect(parseControl('{"type":"ack","offset":0}')).toEqual({ type: 'ack', offset: 0 })
    for (const text of [
      '',
      'not json',
      'null',
      '[]',
      '{"type":"ack"}',
      '{"type":"ack","offset":-1}',
      '{"type":"ack","offset":1.5}',
      '{"type":"ack","offset":"3"}',
      '{"type":"other","offset":3}',
    ]) {
      expect(parseControl(text), text).toBeUndefined()
    }
  })

  it('takes offsets of digits with an optional minus', () => {
    expect(parseOffset(null)).toBeUndefined()
    expect(parseOffset('0')).toBe(0)
    expect(parseOffset('-1000')).toBe(-1000)
    for (const text of ['', '+3', '0x10', '1e3', '1.5', ' 3', '--1', '99999999999999999']) {
      expect(parseOffset(text), text).toBe('invalid')
    }
  })
})
