import { describe, expect, it, vi } from 'vitest'
import { brandError, SluiceError } from './index.js'

/** A package's error family, as each package declares it. */
async function family() {
  const { brandError, SluiceError } = await import('./index.js')
  class PackageError extends SluiceError {
    static {
      brandError(PackageError, 'PackageError')
    }
    override name = 'PackageError'
  }
  class GoneError extends PackageError {
    static {
      brandError(GoneError, 'TEST_ERR_GONE')
    }
    override name = 'GoneError'
    constructor() {
      super('gone', 'TEST_ERR_GONE', 410)
    }
  }
  class FullError extends PackageError {
    static {
      brandError(FullError, 'TEST_ERR_FULL')
    }
    override name = 'FullError'
    constructor() {
      super('full', 'TEST_ERR_FULL', 507)
    }
  }
  return { PackageError, GoneError, FullError }
}

describe('SluiceError', () => {
  it('keeps its message, code, status and cause', () => {
    const cause = new Error('disk')
    const error = new SluiceError('cannot store', 'TEST_ERR_STORAGE', 500, { cause })
    expect(error).toMatchObject({ message: 'cannot store', code: 'TEST_ERR_STORAGE', status: 500 })
    expect(error.cause).toBe(cause)
    expect(error).toBeInstanceOf(Error)
    expect(error).toBeInstanceOf(SluiceError)
  })

  it('is an instance of its class and its ancestors, not of its siblings', async () => {
    const { PackageError, GoneError, FullError } = await family()
    const gone = new GoneError()
    expect(gone instanceof GoneError).toBe(true)
    expect(gone instanceof PackageError).toBe(true)
    expect(gone instanceof Error).toBe(true)
    expect(gone instanceof FullError).toBe(false)
    expect(new PackageError('x', 'TEST_ERR_X', 400) instanceof GoneError).toBe(false)
    for (const value of [undefined, null, 'TEST_ERR_GONE', {}, new Error('gone')]) {
      expect(value instanceof PackageError).toBe(false)
    }
  })

  it('is an instance of the classes of another copy of its package (another bundle)', async () => {
    const ours = await family()
    vi.resetModules()
    const theirs = await family()
    expect(theirs.GoneError).not.toBe(ours.GoneError)
    const gone = new theirs.GoneError()
    expect(gone instanceof ours.GoneError).toBe(true)
    expect(gone instanceof ours.PackageError).toBe(true)
    expect(gone instanceof ours.FullError).toBe(false)
    expect(new ours.FullError() instanceof theirs.FullError).toBe(true)
  })

  it('falls back to the prototype chain for a subclass without a brand of its own', async () => {
    const { PackageError, GoneError } = await family()
    class CustomError extends PackageError {}
    expect(new CustomError('x', 'TEST_ERR_CUSTOM', 500) instanceof CustomError).toBe(true)
    expect(new CustomError('x', 'TEST_ERR_CUSTOM', 500) instanceof PackageError).toBe(true)
    expect(new GoneError() instanceof CustomError).toBe(false)
  })

  it('narrows the type with instanceof', () => {
    class OtherError extends SluiceError {
      static {
        brandError(OtherError, 'OtherError')
      }
      readonly extra = 1
    }
    const value: unknown = new OtherError('x', 'TEST_ERR_OTHER', 400)
    if (!(value instanceof OtherError)) throw new Error('not narrowed')
    expect(value.extra).toBe(1)
  })
})
