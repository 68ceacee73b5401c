/**
 * The gate a TypeScript user would be: packs the package in the current directory as it is
 * published, installs the tarball alone into a scratch project (with @types/node), and typechecks
 * `test/published/consumer.ts` against it under `nodenext` and `bundler` resolution with
 * `skipLibCheck` off. Fails too when any file of the tarball names the private `@sluice/internal`,
 * and when a function's README heading (`### \`name(args): Type\``) gives another return type, or
 * other optional parameters, than its published declaration. Checks the package's `files` too:
 * every entry that names one file exists, and the CHANGELOG.md that `changeset version` writes at
 * release time is published (the check packs with a stand-in when there is none yet).
 * Run by each package's `check:package` (after its build).
 */
import { execFileSync } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
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
const { name, files = [] } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
  name: string
  files?: string[]
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

/** The top-level parts of a parameter list, split at commas outside brackets. */
function parameters(list: string): string[] {
  const parts: string[] = []
  let depth = 0
  let current = ''
  for (const char of list) {
    if ('({[<'.includes(char)) depth++
    if (')}]>'.includes(char)) depth--
    if (char === ',' && depth === 0) {
      parts.push(current.trim())
      current = ''
    } else current += char
  }
  if (current.trim() !== '') parts.push(current.trim())
  return parts
}

/** Which parameters may be left out: `x?`, `{ … }?`, `x = default`, `x?: T`. */
const optional = (list: string) =>
  parameters(list).map(
    (parameter) => /^[^:]*\?\s*(:|$)|=/.test(parameter) || /\}\?$/.test(parameter),
  )

/** Where the README's function headings disagree with the published declarations. */
function documentedSignatures(readme: string, declarations: string): string[] {
  const problems: string[] = []
  for (const [, name, list, returned] of readme.matchAll(/^### `(\w+)\((.*)\): (.+)`$/gm)) {
    const declared = new RegExp(`^declare function ${name}\\((.*)\\): (.+);$`, 'm').exec(
      declarations,
    )
    if (declared === null) {
      problems.push(`the README documents ${name}(), which is not a published function`)
      continue
    }
    const [, declaredList = '', declaredReturn = ''] = declared
    if (returned !== declaredReturn) {
      problems.push(`the README says ${name}() returns ${returned}; it returns ${declaredReturn}`)
    }
    if (optional(list ?? '').join() !== optional(declaredList).join()) {
      problems.push(
        `the README's parameters of ${name}(${list}) are not those declared (${declaredList})`,
      )
    }
  }
  return problems
}

const failures: string[] = []
for (const entry of files) {
  if (!/[*?[]/.test(entry) && !existsSync(join(packageDir, entry))) {
    failures.push(`package.json "files" lists ${entry}, which does not exist`)
  }
}
const changelog = join(packageDir, 'CHANGELOG.md')
const standIn = !existsSync(changelog)
try {
  if (standIn) writeFileSync(changelog, `# ${name}\n`)
  try {
    run('pnpm', ['pack', '--pack-destination', scratch], packageDir)
  } finally {
    if (standIn) rmSync(changelog)
  }
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

  const published = join(unpacked, 'package')
  if (!existsSync(join(published, 'CHANGELOG.md'))) {
    failures.push('CHANGELOG.md would not be published: add it to package.json "files"')
  }
  failures.push(
    ...documentedSignatures(
      readFileSync(join(published, 'README.md'), 'utf8'),
      readFileSync(join(published, 'dist/index.d.ts'), 'utf8'),
    ),
  )

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
  console.error(`${name}: is not published as a user needs it:`)
  for (const failure of failures) console.error(`  - ${failure}`)
  process.exit(1)
}
console.log(
  `${name}: packed as a user needs it: files, README signatures, types for a consumer (nodenext, bundler)`,
)
