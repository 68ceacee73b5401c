import { readdirSync, rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Whether a process with this id runs (ours or anyone's). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * A new directory under the system's temporary directory, removed with everything in it when the
 * process exits (also through `serve()`'s exit on a signal): a demo's files never outlive it.
 * Its name carries the process id, so that the directories of a process that was killed before it
 * could clean up (SIGKILL) are removed by the next one made with the same prefix.
 */
export async function scratchDir(prefix: string): Promise<string> {
  for (const name of readdirSync(tmpdir())) {
    const pid = name.startsWith(prefix) ? Number(name.slice(prefix.length).split('-')[0]) : 0
    if (pid > 0 && !running(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true })
  }
  const dir = await mkdtemp(join(tmpdir(), `${prefix}${process.pid}-`))
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  return dir
}
