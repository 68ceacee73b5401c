// `pnpm dev`: the upload page and hash-server on UPLOAD_HOST's port (3000), and one demo upload of
// a generated file, removed when the demo stops.
import { join } from 'node:path'
import { scratchDir, serve } from '@sluice/internal/cli'
import { payloadFile } from '@sluice/test-utils'
import { createUploadDemoServer } from './server.js'
import { report, uploadAndVerify } from './upload.js'

const port = Number(process.env['PORT'] ?? 3000)
const server = createUploadDemoServer({ algorithms: 'md5,sha256' })
await serve([{ server, name: '[upload-demo] hash-server', host: '127.0.0.1', port }])
const host = `http://127.0.0.1:${port}`
console.log(`[upload-demo] open ${host}/ to upload files from the browser and compare digests`)

const scratch = await scratchDir('sluice-upload-demo-')
const demo = await payloadFile(join(scratch, 'demo.bin'), 64 * 1024 * 1024)
console.log(`[upload-demo] uploading a generated 64 MiB file with @sluice/multipart-client…`)
console.log(report(await uploadAndVerify(host, demo.path)).replace(/^/gm, '[upload-demo] '))
console.log(
  `[upload-demo] try: UPLOAD_HOST=${host} pnpm --filter @sluice-apps/upload-demo upload -filepath FILE`,
)
console.log(`[upload-demo]      curl -F file=@FILE ${host}/`)
