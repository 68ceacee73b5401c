import { constants, type Stats } from 'node:fs'
import { type FileHandle, lstat, mkdir, open } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * File access below a data root that never follows a symbolic link: every directory on the way
 * is checked with lstat (a link, or anything but a directory, refuses the path) and the last
 * component is opened with O_NOFOLLOW. A link placed in the data directory, by mistake or by
 * someone with write access to it, can never lead a request out of the root (nginx's
 * `disable_symlinks on`).
 *
 * Paths are relative to the root, `/`-separated and already validated (see
 * {@link relativePathOf}). Refusals are errors with Node's own codes: `ELOOP` for a link,
 * `ENOTDIR` for a file where a directory should be, `ENOENT` for what does not exist.
 */

function fsError(code: 'ELOOP' | 'ENOTDIR', path: string): NodeJS.ErrnoException {
  const text = code === 'ELOOP' ? 'is a symbolic link, never followed' : 'is not a directory'
  return Object.assign(new Error(`${path} ${text}`), { code, path })
}

function directoriesOf(relative: string): string[] {
  const segments = relative.split('/')
  segments.pop()
  return segments
}

/** Checks every directory of `relative` (not its last component); `create` makes missing ones. */
export async function checkDirectoriesBeneath(
  root: string,
  relative: string,
  create = false,
): Promise<void> {
  let path = root
  for (const segment of directoriesOf(relative)) {
    path = join(path, segment)
    let info: Stats
    try {
      info = await lstat(path)
    } catch (error) {
      if (!create || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      try {
        await mkdir(path)
      } catch (made) {
        // Another request made it meanwhile: check what it made.
        if ((made as NodeJS.ErrnoException).code !== 'EEXIST') throw made
      }
      info = await lstat(path)
    }
    if (info.isSymbolicLink()) throw fsError('ELOOP', path)
    if (!info.isDirectory()) throw fsError('ENOTDIR', path)
  }
}

/** Opens `root/relative` without following a link anywhere below the root. */
export async function openBeneath(
  root: string,
  relative: string,
  flags: number,
  mode = 0o644,
): Promise<FileHandle> {
  await checkDirectoriesBeneath(root, relative, (flags & constants.O_CREAT) !== 0)
  return open(join(root, relative), flags | constants.O_NOFOLLOW, mode)
}

/**
 * lstat of `root/relative` with its directories checked; undefined when it does not exist. A link
 * as the last component is returned as such (the caller refuses it or removes the link itself).
 */
export async function lstatBeneath(root: string, relative: string): Promise<Stats | undefined> {
  try {
    await checkDirectoriesBeneath(root, relative)
    return await lstat(join(root, relative))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw error
  }
}

/** The longest file name most file systems take (NAME_MAX), in bytes. */
export const NAME_MAX = 255

/**
 * The relative file path a URL path names, or undefined when it cannot name one below a root:
 * percent-decoding errors, NUL bytes, backslashes, `.` or `..` segments (raw or encoded), empty
 * segments, the root itself, and segments longer than `maxSegmentBytes` (default NAME_MAX).
 * `rawPath` is the path as the client sent it (not normalised by the URL parser, which would
 * quietly resolve `/a/../b` to `/b`).
 */
export function relativePathOf(
  rawPath: string,
  maxSegmentBytes: number = NAME_MAX,
): string | undefined {
  if (!rawPath.startsWith('/')) return undefined
  const segments: string[] = []
  for (const raw of rawPath.slice(1).split('/')) {
    let segment: string
    try {
      segment = decodeURIComponent(raw)
    } catch {
      return undefined
    }
    if (
      segment === '' ||
      segment === '.' ||
      segment === '..' ||
      segment.includes('/') ||
      segment.includes('\\') ||
      segment.includes('\0') ||
      Buffer.byteLength(segment) > maxSegmentBytes
    ) {
      return undefined
    }
    segments.push(segment)
  }
  return segments.join('/')
}

/**
 * The path of a request target as the client sent it, without query or fragment: origin-form
 * (`/a/b?x`) as is; absolute-form (`http://host/a/b`, what proxies send) without its scheme and
 * authority. Never normalised.
 */
export function rawPathOf(target: string | undefined): string {
  let path = target ?? '/'
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(path)
  if (absolute) path = path.slice(absolute[0].length) || '/'
  const end = path.search(/[?#]/)
  return end === -1 ? path : path.slice(0, end)
}

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'does not exist',
  ENOTDIR: 'is not a directory (or a file is in the way)',
  EEXIST: 'exists and is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ELOOP: 'is a symbolic link (never followed)',
  ENAMETOOLONG: 'name too long',
}

/** A file-system error in a few words a user understands (`not a directory`), with its code. */
export function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  const reason = code === undefined ? undefined : REASONS[code]
  return reason === undefined ? (error as Error).message : `${reason} (${code})`
}
