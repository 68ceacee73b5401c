import { mkdir, rm } from 'node:fs/promises'
import { fsReason } from '../fs/index.js'
import { CannotStartError } from './errors.js'

/**
 * The data directory of a server command line (`--root`, `--path`, `--store`): created with any
 * missing parents when it does not exist, the same rule for every server. `start` runs once it
 * exists; when the server then cannot start (a port in use, a store that cannot be set up), what
 * was created here is removed again: a server that does not start leaves nothing behind.
 * Resolves with a function that removes what was created, for failures noticed later (a worker
 * of a cluster that cannot listen).
 */
export async function withDataDirectory(
  flag: string,
  path: string,
  start: () => Promise<void>,
): Promise<() => Promise<void>> {
  let created: string | undefined
  try {
    created = await mkdir(path, { recursive: true })
  } catch (error) {
    throw new CannotStartError(`${flag} ${path} ${fsReason(error)}`, { cause: error })
  }
  const remove = async () => {
    if (created !== undefined) await rm(created, { recursive: true, force: true })
  }
  try {
    await start()
  } catch (error) {
    await remove()
    throw error
  }
  return remove
}
