import { describe, expect, it } from 'vitest'
import { UploadLock } from './upload-lock.js'

describe('UploadLock', () => {
  it('lets the latest of several waiting requests end the one that got the upload before it', async () => {
    const lock = new UploadLock()
    const ended: string[] = []
    let releaseA = () => {}
    releaseA = await lock.acquire(() => {
      ended.push('A')
      // A lets go a little later, as a PATCH does once its request is destroyed.
      setImmediate(() => releaseA())
    })
    let releaseB = () => {}
    const b = lock.acquire(() => {
      ended.push('B')
      setImmediate(() => releaseB())
    })
    const c = lock.acquire()
    releaseB = await b
    const releaseC = await c
    expect(ended).toEqual(['A', 'A', 'B'])
    expect(lock.held).toBe(true)
    releaseC()
    expect(lock.held).toBe(false)
  })
})
