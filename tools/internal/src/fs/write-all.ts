import type { FileHandle } from 'node:fs/promises'

/**
 * Writes every byte of `chunks`, looping over short writes: at the file's position, or at
 * `position` when given (then the file's position is left alone).
 */
export async function writeAll(
  file: FileHandle,
  chunks: readonly Buffer[],
  position?: number,
): Promise<void> {
  let pending = chunks
  let at = position
  while (pending.length > 0) {
    let { bytesWritten } = await file.writev(pending as Buffer[], at)
    if (at !== undefined) at += bytesWritten
    const rest: Buffer[] = []
    for (const chunk of pending) {
      if (bytesWritten >= chunk.length) bytesWritten -= chunk.length
      else {
        rest.push(bytesWritten === 0 ? chunk : chunk.subarray(bytesWritten))
        bytesWritten = 0
      }
    }
    pending = rest
  }
}
