import { randomUUID } from 'node:crypto'
import { constants } from 'node:fs'
import { type FileHandle, open, readdir, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { checkDirectoriesBeneath } from './beneath.js'

/**
 * A file written in a temporary directory and made visible under its real name only when it is
 * complete: by `commit` (fsync, close, rename, fsync of the directory), so that a crash at any
 * point leaves either the old content or the new, never a part of it.
 */
export interface TempFile {
  readonly path: string
  readonly file: FileHandle
  /**
   * Makes the file `root/relative`, replacing what was there: directories on the way are
   * created, and a symbolic link among them refuses the commit (`ELOOP`).
   */
  commit(root: string, relative: string): Promise<void>
  /** Closes and deletes the file; safe after a failed commit, and twice. */
  discard(): Promise<void>
}

async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, constants.O_RDONLY | constants.O_DIRECTORY)
  try {
    await directory.sync()
  } finally {
    await directory.close()
  }
}

/** Whether a process with this pid exists (one of another user counts). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Makes `root/name` the temporary directory of a store and empties it of what crashed processes
 * left there (files of processes still running, such as the other workers of a cluster, are
 * kept). Refuses a symbolic link in its place (`ELOOP`).
 */
export async function prepareTempDirectory(root: string, name: string): Promise<string> {
  await checkDirectoriesBeneath(root, `${name}/probe`, true)
  const path = join(root, name)
  for (const entry of await readdir(path)) {
    const pid = Number(/^(\d+)-/.exec(entry)?.[1])
    if (pid === process.pid || !isRunning(pid)) await rm(join(path, entry), { force: true })
  }
  // Fails here, at start, when the store cannot be written: not on the first upload.
  const probe = await createTempFile(path)
  await probe.discard()
  return path
}

/**
 * Renames the complete, synced file `path` to `root/relative` (directories on the way created, a
 * symbolic link among them refused with `ELOOP`), then syncs the directory that now holds it.
 * Both must be on one filesystem (else `EXDEV`).
 */
export async function moveIntoPlace(path: string, root: string, relative: string): Promise<void> {
  await checkDirectoriesBeneath(root, relative, true)
  const target = join(root, relative)
  await rename(path, target)
  await syncDirectory(dirname(target))
}

/** Creates an empty temporary file (mode 0644) in `directory`, named after this process. */
export async function createTempFile(directory: string): Promise<TempFile> {
  const path = join(directory, `${process.pid}-${randomUUID()}`)
  const file = await open(path, 'wx', 0o644)
  let closed = false
  let gone = false
  const close = async () => {
    if (closed) return
    closed = true
    await file.close()
  }
  return {
    path,
    file,
    async commit(root, relative) {
      await file.sync()
      await close()
      await moveIntoPlace(path, root, relative)
      gone = true
    },
    async discard() {
      await close().catch(() => {})
      if (!gone) await rm(path, { force: true })
      gone = true
    },
  }
}

/** Writes `data` to `root/relative` through a temporary file in `directory` (see {@link TempFile}). */
export async function writeFileAtomically(
  directory: string,
  root: string,
  relative: string,
  data: string | Uint8Array,
): Promise<void> {
  const temp = await createTempFile(directory)
  try {
    await temp.file.writeFile(data)
    await temp.commit(root, relative)
  } finally {
    await temp.discard()
  }
}
