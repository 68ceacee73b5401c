import { type ListeningServer, listen, tempDir } from '@sluice/test-utils'
import { afterEach, beforeEach } from 'vitest'
import { createOrigin } from '../src/origin.js'

/**
 * A fresh origin for each test of the file that calls this, over a temporary directory: both are
 * closed and removed after the test (after the file's own `afterEach` hooks, which run first).
 */
export function originForEachTest(): { readonly url: string } {
  let root: Awaited<ReturnType<typeof tempDir>> | undefined
  let origin: ListeningServer | undefined
  beforeEach(async () => {
    root = await tempDir('lhls-')
    const server = createOrigin(root.path)
    await server.handler.ready
    origin = await listen(server)
  })
  afterEach(async () => {
    await origin?.close()
    await root?.remove()
  })
  return {
    get url() {
      if (origin === undefined) throw new Error('the origin starts before each test')
      return origin.url
    },
  }
}
