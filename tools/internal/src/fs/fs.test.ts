import { constants } from 'node:fs'
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import {
  checkDirectoriesBeneath,
  createTempFile,
  fsReason,
  lstatBeneath,
  openBeneath,
  prepareTempDirectory,
  rawPathOf,
  relativePathOf,
  writeFileAtomically,
} from './index.js'

async function sandbox() {
  const dir = await tempDir()
  const root = join(dir.path, 'root')
  await mkdir(root)
  await writeFile(join(dir.path, 'secret'), 'outside')
  await mkdir(join(dir.path, 'elsewhere'))
  await symlink(join(dir.path, 'secret'), join(root, 'file-link'))
  await symlink(join(dir.path, 'elsewhere'), join(root, 'dir-link'))
  return { root, outside: dir.path }
}

describe('relativePathOf and rawPathOf', () => {
  it('maps clean paths and keeps what the client sent', () => {
    expect(relativePathOf('/a/b.txt')).toBe('a/b.txt')
    expect(relativePathOf('/a%20b')).toBe('a b')
    expect(rawPathOf('/a/../b?x=1#f')).toBe('/a/../b')
    expect(rawPathOf('http://host:8080/a/b?q')).toBe('/a/b')
    expect(rawPathOf('http://host')).toBe('/')
    expect(rawPathOf(undefined)).toBe('/')
  })

  it('refuses every way out of the root and every name a file system cannot hold', () => {
    for (const path of [
      '/',
      '/../etc/passwd',
      '/a/../../etc',
      '/a/../b',
      '/./b',
      '/%2e%2e/etc',
      '/a/%2E%2E/%2E%2E/x',
      '/a%2f..%2f..%2fx',
      '/a\\\\..\\\\x',
      '/a%5c..%5cx',
      '/a%00b',
      '/a//b',
      '/a/./b',
      '/%zz',
      'relative',
      `/${'n'.repeat(256)}`,
      `/${'é'.repeat(128)}`,
    ]) {
      expect(relativePathOf(path), path).toBeUndefined()
    }
    expect(relativePathOf(`/${'n'.repeat(255)}`)).toBe('n'.repeat(255))
    expect(relativePathOf(`/${'n'.repeat(251)}`, 250)).toBeUndefined()
  })
})

describe('file access beneath a root', () => {
  it('opens, creates and checks paths, refusing links with ELOOP and files in the way with ENOTDIR', async () => {
    const { root, outside } = await sandbox()
    const created = await openBeneath(root, 'a/b/c.txt', constants.O_WRONLY | constants.O_CREAT)
    await created.writeFile('made')
    await created.close()
    expect(await readFile(join(root, 'a/b/c.txt'), 'utf8')).toBe('made')
    await expect(openBeneath(root, 'file-link', constants.O_RDONLY)).rejects.toMatchObject({
      code: 'ELOOP',
    })
    await expect(
      openBeneath(root, 'dir-link/new', constants.O_WRONLY | constants.O_CREAT),
    ).rejects.toMatchObject({ code: 'ELOOP' })
    await expect(checkDirectoriesBeneath(root, 'a/b/c.txt/d', true)).rejects.toMatchObject({
      code: 'ENOTDIR',
    })
    expect(await readdir(join(outside, 'elsewhere'))).toEqual([])
    expect((await lstatBeneath(root, 'file-link'))?.isSymbolicLink()).toBe(true)
    expect(await lstatBeneath(root, 'nothing/here')).toBeUndefined()
    await expect(lstatBeneath(root, 'dir-link/x')).rejects.toMatchObject({ code: 'ELOOP' })
  })

  it('describes file-system errors in words', () => {
    expect(fsReason(Object.assign(new Error('x'), { code: 'ENOTDIR' }))).toBe(
      'is not a directory (or a file is in the way) (ENOTDIR)',
    )
    expect(fsReason(new Error('plain'))).toBe('plain')
  })
})

describe('temporary files', () => {
  it('commits by rename into place, discards, and leaves nothing behind', async () => {
    const { root } = await sandbox()
    const temp = await prepareTempDirectory(root, '.tmp')
    const file = await createTempFile(temp)
    await file.file.writeFile('content')
    await file.commit(root, 'x/y/z')
    expect(await readFile(join(root, 'x/y/z'), 'utf8')).toBe('content')
    await file.discard()
    const dropped = await createTempFile(temp)
    await dropped.discard()
    await dropped.discard()
    await writeFileAtomically(temp, root, 'meta/k.json', '{}')
    expect(await readFile(join(root, 'meta/k.json'), 'utf8')).toBe('{}')
    expect(await readdir(temp)).toEqual([])
  })

  it('refuses to commit through a link, and clears what dead processes left', async () => {
    const { root, outside } = await sandbox()
    const temp = await prepareTempDirectory(root, '.tmp')
    const file = await createTempFile(temp)
    await expect(file.commit(root, 'dir-link/stolen')).rejects.toMatchObject({ code: 'ELOOP' })
    await file.discard()
    expect(await readdir(join(outside, 'elsewhere'))).toEqual([])
    // A leftover of a process that no longer runs, and one of a process still running (this one's parent).
    await writeFile(join(temp, '999999999-left'), 'x')
    await writeFile(join(temp, `${process.ppid}-running`), 'x')
    await prepareTempDirectory(root, '.tmp')
    expect(await readdir(temp)).toEqual([`${process.ppid}-running`])
    await symlink(outside, join(root, '.linked'))
    await expect(prepareTempDirectory(root, '.linked')).rejects.toMatchObject({ code: 'ELOOP' })
  })
})
