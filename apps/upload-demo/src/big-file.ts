// Proof that uploads stream: upload a generated multi-GiB file under a small V8 heap limit and
// print the uploader's peak RSS.   pnpm --filter @sluice-apps/upload-demo big-file [-- GiB]
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHashServer } from '@sluice/hash-server'
import { listen, payloadFile, runCli } from '@sluice/test-utils'

const gib = Number(process.argv[2] ?? 2)
const path = join(tmpdir(), `sluice-upload-demo-${gib}g.bin`)
console.log(`generating ${gib} GiB of random data in ${path}…`)
const file = await payloadFile(path, gib * 1024 ** 3)
const server = await listen(createHashServer({ algorithms: 'md5,sha256' }))
try {
  const cli = fileURLToPath(new URL('./upload-cli.ts', import.meta.url))
  // --max-old-space-size=16: a 16 MB V8 heap for a file of several GiB.
  const result = await runCli(
    process.execPath,
    ['--max-old-space-size=16', '--import', 'tsx', cli, '-filepath', file.path],
    {
      env: { UPLOAD_HOST: server.url },
      measureRss: true,
      timeoutMs: 30 * 60_000,
    },
  )
  process.stdout.write(result.stdout)
  process.stderr.write(result.stderr)
  console.log(
    `uploader exit code ${result.code}, peak RSS ${(result.peakRss / 1e6).toFixed(1)} MB (V8 heap limit 16 MB)`,
  )
  process.exitCode = result.code ?? 1
} finally {
  await server.close()
  await rm(path, { force: true })
}
