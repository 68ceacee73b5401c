import { constants } from 'node:fs'
import { type FileHandle, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { lstatBeneath, openBeneath, writeAll } from '@sluice/internal/fs'
import { fileRepresentation, type Representation } from '@sluice/internal/http'
import { LiveBytes, readLive, type StoredBytes } from '@sluice/internal/live'
import {
  AppendConflictError,
  type FstreamServerError,
  OffsetOutOfRangeError,
  ResourceGoneError,
  ResourceNotFoundError,
  StorageError,
  SymbolicLinkError,
} from '../errors.js'
import type { AppendTarget, FollowRequest, FollowSource, ResourceStorage } from './index.js'
import { LiveResources } from './live-resources.js'

/** Bytes a follower reads from the file at once. */
const READ_SIZE = 256 * 1024

/** Opens a resource for reading, without following a link; an error when it is not a file. */
async function openResource(
  root: string,
  relative: string,
): Promise<FileHandle | FstreamServerError> {
  let file: FileHandle
  try {
    file = await openBeneath(root, relative, constants.O_RDONLY)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ELOOP') return new SymbolicLinkError()
    if (code === 'ENOENT' || code === 'ENOTDIR') return new ResourceNotFoundError()
    throw error
  }
  if (!(await file.stat()).isFile()) {
    await file.close()
    return new ResourceNotFoundError()
  }
  return file
}

/** Opens a resource to append to, creating it (and its directories) only when that is asked. */
async function openForAppend(
  root: string,
  relative: string,
  offset: number | undefined,
): Promise<FileHandle | FstreamServerError> {
  const flags = constants.O_WRONLY | constants.O_APPEND
  const refusal = (error: unknown) =>
    (error as NodeJS.ErrnoException).code === 'ELOOP'
      ? new SymbolicLinkError()
      : new AppendConflictError(`cannot append here: ${(error as Error).message}`)
  try {
    return await openBeneath(root, relative, flags)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return refusal(error)
    if ((offset ?? 0) !== 0)
      return new AppendConflictError(`the resource is 0 bytes, not ${offset}`)
  }
  try {
    return await openBeneath(root, relative, flags | constants.O_CREAT)
  } catch (error) {
    return refusal(error)
  }
}

/** A resource's stored bytes, read from its open file. */
function fileBytes(file: FileHandle): StoredBytes {
  return {
    async read(position, length) {
      const { bytesRead, buffer } = await file.read(Buffer.allocUnsafe(length), 0, length, position)
      return buffer.subarray(0, bytesRead)
    },
  }
}

/**
 * The bytes of an open resource from `start`: the stored ones, then (through the appender's
 * {@link LiveBytes}: the newest from memory, older from the file) those appended live, until
 * the follower has everything and nobody appends.
 */
async function* followFile(
  file: FileHandle,
  start: number,
  appending: () => LiveBytes | undefined,
  signal: AbortSignal,
): AsyncGenerator<Buffer> {
  const stored = fileBytes(file)
  let source = appending() ?? LiveBytes.finished((await file.stat()).size)
  let position = start
  for (;;) {
    for await (const bytes of readLive(source, stored, {
      start: position,
      chunkSize: READ_SIZE,
      signal,
    })) {
      position += bytes.length
      yield bytes
    }
    if (signal.aborted) return
    // Caught up with bytes nobody writes to any more; an appender may have started meanwhile.
    const next = appending()
    if (next === undefined || next === source || next.state !== 'receiving') return
    source = next
  }
}

function storageError(action: string, error: unknown): FstreamServerError {
  return new StorageError(`cannot ${action} the resource: ${(error as Error).message}`, {
    cause: error,
  })
}

/**
 * Resources as files below `root` (`logs/app.log` is `<root>/logs/app.log`): an append session
 * writes to the file and acknowledges what `fdatasync` made durable; followers read the file at
 * their own pace, the newest bytes from the appender's memory. One appender per resource in this
 * process (the files are this server's own). Symbolic links below the root are never followed.
 */
export class FileStorage implements ResourceStorage {
  readonly root: string
  readonly #resources = new LiveResources()

  constructor(root: string) {
    this.root = root
  }

  async init(): Promise<void> {
    if (!(await stat(this.root)).isDirectory()) {
      throw Object.assign(new Error(`${this.root} is not a directory`), { code: 'ENOTDIR' })
    }
  }

  async close(): Promise<void> {}

  get appendingCount(): number {
    return this.#resources.appendingCount
  }

  async openAppend(
    path: string,
    offset: number | undefined,
  ): Promise<AppendTarget | FstreamServerError> {
    const resources = this.#resources
    if (!resources.reserve(path)) return new AppendConflictError('another appender is active')
    const file = await openForAppend(this.root, path, offset)
    if ('status' in file) {
      resources.cancel(path)
      return file
    }
    const info = await file.stat()
    const refusal = !info.isFile()
      ? new AppendConflictError('not a file')
      : offset !== undefined && offset !== info.size
        ? new AppendConflictError(`the resource is ${info.size} bytes, not ${offset}`)
        : undefined
    // What a previous session wrote but never synced (a crash, a restart) becomes durable now:
    // the `ready` offset of this session is one the appender can rely on.
    const synced =
      refusal ??
      (await file.datasync().then(
        () => undefined,
        (error: unknown) => storageError('sync', error),
      ))
    if (synced) {
      resources.cancel(path)
      await file.close()
      return synced
    }
    const { live, lost } = resources.activate(path, info.size)
    return {
      start: info.size,
      lost,
      write: async (chunks) => {
        await writeAll(file, chunks)
        live.push(chunks)
      },
      sync: async () => {
        const target = live.size
        await file.datasync()
        return target
      },
      close: async (complete) => {
        resources.release(path, live, complete)
        await file.close()
      },
    }
  }

  async openFollow(
    path: string,
    request: FollowRequest,
  ): Promise<FollowSource | FstreamServerError> {
    const resources = this.#resources
    const appending = () => resources.get(path)
    // ?wait=1: the resource appears with its first appender. Listen for it before looking on
    // disk, so that an appender who starts while we look is not missed.
    const gone = new AbortController()
    const arrival = request.wait ? resources.arrival(path, gone.signal) : undefined
    const opened = await openResource(this.root, path).catch((error: unknown) => {
      gone.abort()
      throw error
    })
    if ('status' in opened) {
      if (opened.status !== 404 || arrival === undefined) {
        gone.abort()
        return opened
      }
      if (request.offset > 0) {
        gone.abort()
        return new OffsetOutOfRangeError(0, request.offset)
      }
      const root = this.root
      let file: FileHandle | undefined
      return {
        start: 0,
        size: 0,
        live: true,
        async *bytes(signal) {
          const stop = () => gone.abort()
          signal.addEventListener('abort', stop, { once: true })
          try {
            if (!(await arrival)) return
          } finally {
            signal.removeEventListener('abort', stop)
          }
          const arrived = await openResource(root, path)
          if ('status' in arrived) throw arrived
          file = arrived
          yield* followFile(arrived, 0, appending, signal)
        },
        close: async () => {
          gone.abort()
          await file?.close()
        },
      }
    }
    gone.abort()
    const size = appending()?.size ?? (await opened.stat()).size
    if (request.offset > size) {
      await opened.close()
      return new OffsetOutOfRangeError(size, request.offset)
    }
    const start = request.offset < 0 ? Math.max(0, size + request.offset) : request.offset
    return {
      start,
      size,
      live: appending() !== undefined,
      bytes: (signal) => followFile(opened, start, appending, signal),
      close: () => opened.close(),
    }
  }

  async representation(path: string): Promise<Representation | FstreamServerError> {
    const found = await fileRepresentation(this.root, path)
    if (found === 'symlink') return new SymbolicLinkError()
    if (typeof found === 'string') return new ResourceNotFoundError()
    return found
  }

  async list(prefix: string, limit: number): Promise<string[]> {
    const found: string[] = []
    const walk = async (relative: string): Promise<void> => {
      const entries = await readdir(join(this.root, relative), { withFileTypes: true }).catch(
        () => [],
      )
      for (const entry of entries) {
        // Dot files are the storage's own; links are never followed.
        if (found.length >= limit || entry.name.startsWith('.')) continue
        const path = `${relative}/${entry.name}`
        if (entry.isDirectory()) await walk(path)
        else if (entry.isFile()) found.push(path)
      }
    }
    await walk(prefix)
    return found.sort()
  }

  async delete(path: string): Promise<boolean | FstreamServerError> {
    const info = await lstatBeneath(this.root, path).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ELOOP') return 'symlink' as const
      throw error
    })
    if (info === 'symlink' || info?.isSymbolicLink()) return new SymbolicLinkError()
    if (info === undefined || !info.isFile()) return false
    this.#resources.remove(path, new ResourceGoneError('the resource was deleted'))
    await rm(join(this.root, path), { force: true })
    return true
  }
}
