import type { FileHandle } from 'node:fs/promises'

/** Writes every byte of `chunks` at the file's position, looping over short writes. */
export async function writeAll(file: FileHandle, chunks: readonly Buffer[]): Promise<void> {
  let pending = chunks
  while (pending.length > 0) {
    let { bytesWritten } = await file.writev(pending as Buffer[])
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
