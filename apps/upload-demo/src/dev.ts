// `pnpm dev`: the upload page and hash-server on UPLOAD_HOST's port (3000), storing uploads in a
// scratch directory (UPLOAD_DEMO_S3=1: in a Swift bucket, through the S3 API), and one demo upload
// of a generated file; all removed when the demo stops.
import { join } from 'node:path'
import { scratchDir, serve } from '@sluice/internal/cli'
import { payloadFile } from '@sluice/test-utils'
import { createUploadDemoServer } from './server.js'
import { demoStore } from './store.js'
import { report, uploadAndVerify } from './upload.js'

const port = Number(process.env['PORT'] ?? 3000)
const scratch = await scratchDir('sluice-upload-demo-')
const store = await demoStore(scratch)
await store.init()
const server = createUploadDemoServer({ algorithms: 'md5,sha256', store }, join(scratch, 'tus'))
await serve([{ server, name: '[upload-demo] hash-server', host: '127.0.0.1', port }])
const host = `http://127.0.0.1:${port}`
console.log(`[upload-demo] uploads are stored in ${store.location}`)
console.log(`[upload-demo] open ${host}/ to upload files from the browser and compare digests`)

const demo = await payloadFile(join(scratch, 'demo.bin'), 64 * 1024 * 1024)
console.log(`[upload-demo] uploading a generated 64 MiB file with @sluice/multipart-client…`)
console.log(report(await uploadAndVerify(host, demo.path)).replace(/^/gm, '[upload-demo] '))
console.log(
  `[upload-demo] try: UPLOAD_HOST=${host} pnpm --filter @sluice-apps/upload-demo upload -filepath FILE`,
)
console.log(`[upload-demo]      curl -F file=@FILE ${host}/`)
