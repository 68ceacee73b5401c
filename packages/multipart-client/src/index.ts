export { MultipartClient, type MultipartClientOptions } from './client.js'
export {
  ConnectionError,
  EarlyResponseError,
  InvalidArgumentError,
  MultipartClientError,
  SourceError,
  UploadAbortedError,
  UploadTimeoutError,
} from './errors.js'
export type {
  FieldPart,
  FilePart,
  FileSource,
  Part,
  PartOptions,
} from './parts.js'
export type { RequestOptions, UploadResponse } from './request.js'
export { type RetryOptions, type UploadOptions, type UploadProgress, upload } from './upload.js'
