import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '@sluice/test-utils'
import { storeContract } from '../../test/store-contract.js'
import { DiskStore } from './disk.js'

storeContract('disk', async () => {
  const dir = await tempDir('hash-store-')
  return {
    store: new DiskStore(dir.path),
    read: (algorithm, hex) =>
      readFile(join(dir.path, algorithm, hex)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined
        throw error
      }),
    leftovers: () => readdir(join(dir.path, '.tmp')),
    large: 3 * 1024 * 1024,
    cleanup: () => dir.remove(),
  }
})
