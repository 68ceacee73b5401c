// upload-demo -filepath FILE   (UPLOAD_HOST, default http://localhost:3000)
import { report, uploadAndVerify } from './upload.js'

function filepath(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    const match = /^--?filepath(?:=(.*))?$/.exec(arg)
    if (match) return match[1] ?? argv[i + 1]
  }
  return undefined
}

const path = filepath(process.argv.slice(2))
if (path === undefined) {
  process.stderr.write(
    'usage: upload-demo -filepath FILE   (server: $UPLOAD_HOST, default http://localhost:3000)\n',
  )
  process.exit(2)
}
const host = process.env['UPLOAD_HOST'] ?? 'http://localhost:3000'
try {
  const result = await uploadAndVerify(host, path)
  process.stdout.write(`${report(result)}\n`)
  process.exitCode = result.match ? 0 : 1
} catch (error) {
  process.stderr.write(`upload-demo: ${(error as Error).message}\n`)
  process.exitCode = 1
}
