/**
 * The gate a TypeScript user would be: packs the package in the current directory as it is
 * published, installs the tarball alone into a scratch project (with @types/node), and typechecks
 * `test/published/consumer.ts` against it under `nodenext` and `bundler` resolution with
 * `skipLibCheck` off. Fails too when any file of the tarball names the private `@sluice/internal`.
 * Run by each package's `check:package` (after its build).
 */
import { execFileSync } from 'node:child_process'
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'

const PRIVATE = '@sluice/internal'
const TYPES_NODE = '@types/node@20.19.43'

const packageDir = process.cwd()
const { name } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
  name: string
}
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const scratch = mkdtempSync(join(tmpdir(), 'sluice-types-'))
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })

function* filesBelow(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* filesBelow(path)
    else yield path
  }
}

const failures: string[] = []
try {
  run('pnpm', ['pack', '--pack-destination', scratch], packageDir)
  const tarball = readdirSync(scratch).find((file) => file.endsWith('.tgz'))
  if (tarball === undefined) throw new Error('pnpm pack made no tarball')

  const unpacked = join(scratch, 'unpacked')
  run('mkdir', [unpacked], scratch)
  run('tar', ['-xzf', join(scratch, tarball), '-C', unpacked], scratch)
  for (const file of filesBelow(unpacked)) {
    if (readFileSync(file, 'latin1').includes(PRIVATE)) {
      failures.push(`${relative(unpacked, file)} names ${PRIVATE}, which is never published`)
    }
  }

  const project = join(scratch, 'project')
  run('mkdir', [project], scratch)
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  )
  run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--no-package-lock', join(scratch, tarball), TYPES_NODE],
    project,
  )
  copyFileSync(join(packageDir, 'test/published/consumer.ts'), join(project, 'consumer.ts'))
  const strict = {
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: false,
    noEmit: true,
    types: ['node'],
    target: 'ES2022',
  }
  const resolutions = {
    nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
    bundler: { module: 'preserve', moduleResolution: 'bundler' },
  }
  for (const [resolution, settings] of Object.entries(resolutions)) {
    const config = `tsconfig.${resolution}.json`
    writeFileSync(
      join(project, config),
      JSON.stringify({ compilerOptions: { ...strict, ...settings }, files: ['consumer.ts'] }),
    )
    try {
      run(process.execPath, [tsc, '-p', config], project)
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string }
      failures.push(
        `typecheck (${resolution}) of a consumer failed:\n${stdout ?? ''}${stderr ?? ''}`,
      )
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}

if (failures.length > 0) {
  console.error(`${name}: its published types do not work for a TypeScript user:`)
  for (const failure of failures) console.error(`  - ${failure}`)
  process.exit(1)
}
console.log(`${name}: the packed package typechecks for a consumer (nodenext, bundler)`)
