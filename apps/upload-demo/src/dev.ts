// `pnpm dev`: a hash-server on UPLOAD_HOST's port (3000) and one demo upload of a generated file.
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHashServer } from '@sluice/hash-server'
import { payloadFile } from '@sluice/test-utils'
import { report, uploadAndVerify } from './upload.js'

const port = Number(process.env['PORT'] ?? 3000)
const server = createHashServer({ algorithms: 'md5,sha256' })
await new Promise<void>((resolve, reject) => {
  server.once('error', reject)
  server.listen(port, '127.0.0.1', resolve)
})
const host = `http://127.0.0.1:${port}`
console.log(`[upload-demo] hash-server listening on ${host} (multipart digests per part)`)

const demo = await payloadFile(join(tmpdir(), 'sluice-upload-demo.bin'), 64 * 1024 * 1024)
console.log(`[upload-demo] uploading a generated 64 MiB file with @sluice/multipart-client…`)
console.log(report(await uploadAndVerify(host, demo.path)).replace(/^/gm, '[upload-demo] '))
console.log(
  `[upload-demo] try: UPLOAD_HOST=${host} pnpm --filter @sluice-apps/upload-demo upload -filepath FILE`,
)
console.log(`[upload-demo]      curl -F file=@FILE ${host}/`)
process.once('SIGINT', () => server.close(() => process.exit(0)))
process.once('SIGTERM', () => server.close(() => process.exit(0)))
