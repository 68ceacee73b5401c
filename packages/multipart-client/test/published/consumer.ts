// Typechecked against the packed package, installed alone (`pnpm check:package`).
import {
  MultipartClient,
  MultipartClientError,
  type UploadOptions,
  upload,
} from '@sluice/multipart-client'

const options: UploadOptions = {
  method: 'PUT',
  headers: { authorization: 'Bearer t' },
  onProgress: ({ loaded, total }) => console.log(loaded, total),
}
export const response = upload(
  'http://127.0.0.1:8080/',
  [
    { name: 'file', path: './a.bin' },
    { name: 'note', value: 'hello' },
  ],
  options,
)
const client = new MultipartClient('http://127.0.0.1:8080/')
export const sent = client.send(Buffer.from('x'), { name: 'file', filename: 'x.bin' })
// @ts-expect-error onProgress is a function
upload('http://127.0.0.1:8080/', [], { onProgress: true })
export const codeOf = (error: unknown): string | undefined =>
  error instanceof MultipartClientError ? error.code : undefined
