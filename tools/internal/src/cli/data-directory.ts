import { mkdir, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
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
    created = await makeDirectory(path)
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

/**
 * `mkdir -p` that resolves with the first directory it created. Not `mkdir(path, { recursive:
 * true })`: Node's never returns for a path in a directory that refuses new entries with ENOENT
 * (`/proc/x`), it retries the parent, which exists, forever.
 */
async function makeDirectory(path: string): Promise<string | undefined> {
  try {
    await mkdir(path)
    return path
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return undefined
    if (code !== 'ENOENT' || dirname(path) === path) throw error
  }
  const created = await makeDirectory(dirname(path))
  try {
    await mkdir(path)
  } catch (error) {
    if (created !== undefined) await rm(created, { recursive: true, force: true })
    throw error
  }
  return created ?? path
}
