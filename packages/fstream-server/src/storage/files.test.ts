import { tempDir } from '@sluice/test-utils'
import { storageContract } from '../../test/storage-contract.js'
import { FileStorage } from './files.js'

storageContract('files', async () => {
  const dir = await tempDir('fstream-files-')
  const storage = new FileStorage(dir.path)
  await storage.init()
  return {
    storage,
    cleanup: async () => {
      await storage.close()
      await dir.remove()
    },
  }
})
