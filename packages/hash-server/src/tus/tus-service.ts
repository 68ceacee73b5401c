import { randomBytes } from 'node:crypto'
import { requestBody } from '@sluice/internal/http'
import { parseAlgorithms } from '../algorithms.js'
import { type ExpectedDigest, formatDigestField, parseDigestFields } from '../digest-fields.js'
import {
  BodyTooLargeError,
  ChecksumMismatchError,
  HashServerError,
  InvalidHeaderError,
  OffsetConflictError,
  TooManyUploadsError,
  TusVersionError,
  UnsupportedMediaTypeError,
  UploadGoneError,
  UploadLengthExceededError,
  UploadNotFoundError,
} from '../errors.js'
import type { Exchange } from '../exchange.js'
import type { BodyHashing } from '../hash-body.js'
import {
  byteCountHeader,
  CHECKSUM_ALGORITHMS,
  hasBody,
  headerText,
  isOffsetStream,
  parseUploadChecksum,
  parseUploadMetadata,
  TUS_EXTENSIONS,
  TUS_VERSION,
} from './protocol.js'
import { type PatchCheck, TusUpload } from './upload.js'
import { isUploadId, UploadDirectory, type UploadRecord } from './upload-directory.js'

/** Options of hash-server's tus endpoint (`tus` of the handler's options). */
export interface TusOptions {
  /** URL path of the endpoint, such as `/files/`: uploads are created there, and live beneath it. */
  readonly path: string
  /**
   * Directory where uploads in progress are kept (their bytes and state), on a local filesystem;
   * one process per directory. The CLI uses `<store>/.tus` with a directory store.
   */
  readonly directory: string
  /** An upload untouched for this long (ms) is removed with its bytes (default 24 h). */
  readonly expire?: number
  /** Uploads in progress at most; one more is refused with `503` and `Retry-After` (default 1000). */
  readonly maxUploads?: number
}

/** The tus endpoint of a hash handler. */
export interface TusService {
  /** Resolves once the directory is usable and the uploads of an earlier process are loaded. */
  readonly ready: Promise<void>
  /** Whether a URL path belongs to the endpoint. */
  matches(pathname: string): boolean
  /** Answers a request of the endpoint; `authorize` throws when a write token is missing. */
  handle(exchange: Exchange, authorize: () => void): Promise<void>
  /** Uploads receiving bytes (created, not yet complete). */
  readonly inProgress: number
  /** Stops the expiry timer. */
  close(): void
}

const DAY = 24 * 60 * 60 * 1000
/** How long a client refused for too many uploads is asked to wait, seconds. */
const RETRY_AFTER_SECONDS = 5

/** Creates the tus 1.0 endpoint (core, creation, creation-with-upload, creation-defer-length, termination, expiration, checksum). */
export function createTusService(
  options: TusOptions,
  hashing: BodyHashing,
  onError: (error: unknown) => void,
): TusService {
  const base = options.path.endsWith('/') ? options.path : `${options.path}/`
  const expire = options.expire ?? DAY
  const maxUploads = options.maxUploads ?? 1000
  const directory = new UploadDirectory(options.directory)
  const uploads = new Map<string, TusUpload>()
  /** Creations between the limit's check and their upload's arrival in `uploads`. */
  let creating = 0

  const expiresAt = (upload: TusUpload) => new Date(upload.record.touchedAt + expire).toUTCString()
  const receiving = () => {
    let count = 0
    for (const upload of uploads.values()) if (upload.record.state === 'receiving') count++
    return count
  }

  const ready = (async () => {
    await directory.init()
    const now = Date.now()
    for (const { record, size, modifiedAt } of await directory.load(onError)) {
      // The record is saved at changes of state; each PATCH touches the data file.
      record.touchedAt = Math.max(record.touchedAt, modifiedAt)
      if (record.touchedAt + expire < now) await directory.remove(record.id)
      else {
        const offset = record.state === 'done' ? (record.length ?? size) : size
        uploads.set(record.id, new TusUpload(directory, record, offset))
      }
    }
  })()
  ready.catch(() => {})

  const sweep = setInterval(
    () => {
      const now = Date.now()
      for (const upload of uploads.values()) {
        if (upload.lock.held || upload.record.touchedAt + expire >= now) continue
        uploads.delete(upload.id)
        directory.remove(upload.id).catch(onError)
      }
    },
    Math.max(100, Math.min(expire / 4, 60_000)),
  )
  sweep.unref()

  function setOptionsHeaders(exchange: Exchange): void {
    const { res } = exchange
    res.setHeader('Tus-Version', TUS_VERSION)
    res.setHeader('Tus-Extension', TUS_EXTENSIONS.join(','))
    res.setHeader('Tus-Checksum-Algorithm', CHECKSUM_ALGORITHMS.join(','))
    if (Number.isFinite(hashing.maxBodySize)) res.setHeader('Tus-Max-Size', hashing.maxBodySize)
  }

  /** The whole upload's digests the client declared at creation: `Repr-Digest`, or in metadata. */
  function declaredDigests(exchange: Exchange, metadata: Map<string, string>): ExpectedDigest[] {
    const fromHeader = (exchange.fields?.expected ?? []).filter((d) => d.header === 'repr-digest')
    const fromMetadata = metadata.has('repr-digest')
      ? parseDigestFields({ 'repr-digest': metadata.get('repr-digest') }).expected
      : []
    return [...fromHeader, ...fromMetadata]
  }

  /** What one PATCH's bytes must match: `Upload-Checksum` and `Content-Digest`, all or nothing. */
  function patchChecks(exchange: Exchange): PatchCheck[] {
    const checks: PatchCheck[] = []
    const checksum = parseUploadChecksum(exchange.req)
    if (checksum) checks.push({ label: 'Upload-Checksum', ...checksum })
    for (const digest of exchange.fields?.expected ?? []) {
      if (digest.header === 'content-digest') {
        checks.push({
          label: `Content-Digest ${digest.key}`,
          algorithm: digest.algorithm,
          value: digest.value,
        })
      }
    }
    return checks
  }

  /** Checks the complete upload's digests, stores it and marks it done (or gone, on a mismatch). */
  async function finish(upload: TusUpload): Promise<void> {
    const { record } = upload
    const computed = await upload.digests()
    for (const digest of record.declared) {
      const sent = Buffer.from(digest.base64, 'base64')
      const actual = computed.get(digest.algorithm) as Buffer
      if (!actual.equals(sent)) {
        const message = `Repr-Digest ${digest.key} mismatch: the upload was declared as ${digest.base64}, its bytes hash to ${actual.toString('base64')}; the upload is terminated`
        await terminate(upload, `its ${digest.key} digest did not match the one declared`)
        throw new ChecksumMismatchError(message)
      }
    }
    const hex = Object.fromEntries(
      [...computed].map(([algorithm, d]) => [algorithm, d.toString('hex')]),
    )
    const first = record.algorithms[0] as string
    if (hashing.store) {
      await hashing.storeReady
      record.location = await upload.store(hashing.store, first, hex[first] as string)
    }
    record.digests = hex
    record.state = 'done'
    record.touchedAt = Date.now()
    await directory.save(record)
    await directory.removeData(upload.id)
  }

  async function terminate(upload: TusUpload, reason: string): Promise<void> {
    upload.record.state = 'gone'
    upload.record.reason = reason
    upload.record.touchedAt = Date.now()
    await directory.save(upload.record)
    await directory.removeData(upload.id)
  }

  /** Headers every answer about an upload carries: its offset, length and, once done, digests. */
  function describe(exchange: Exchange, upload: TusUpload): void {
    const { res } = exchange
    const { record } = upload
    res.setHeader('Upload-Offset', upload.offset)
    if (record.state === 'done' && record.digests) {
      const computed = new Map(
        Object.entries(record.digests).map(([algorithm, hex]) => [
          algorithm,
          Buffer.from(hex, 'hex'),
        ]),
      )
      const keyed = record.algorithms.filter((algorithm) => {
        try {
          formatDigestField([algorithm], computed)
          return true
        } catch {
          return false
        }
      })
      if (keyed.length > 0) res.setHeader('Repr-Digest', formatDigestField(keyed, computed))
      if (record.location) res.setHeader('Content-Location', record.location)
    } else {
      res.setHeader('Upload-Expires', expiresAt(upload))
    }
  }

  /** Takes the bytes of a PATCH (or of a creating POST), then finishes a complete upload. */
  async function receive(exchange: Exchange, upload: TusUpload, checks: PatchCheck[]) {
    exchange.continue()
    try {
      await upload.receive(
        () => requestBody(exchange.req),
        checks,
        hashing.maxBodySize,
        (bytes) => hashing.metrics.countHashed(bytes),
      )
    } catch (error) {
      // Every byte arrived but the connection broke before the request ended: finish anyway, so
      // that a client that never comes back still has its upload stored (or refused).
      if (upload.complete) await finish(upload).catch(() => {})
      throw error
    } finally {
      upload.record.touchedAt = Date.now()
    }
    if (upload.complete) await finish(upload)
  }

  async function create(exchange: Exchange): Promise<void> {
    const { req, res } = exchange
    const length = byteCountHeader(req, 'Upload-Length')
    const defer = headerText(req, 'upload-defer-length')
    if (defer !== undefined && defer.trim() !== '1') {
      throw new InvalidHeaderError('malformed Upload-Defer-Length header: the only value is 1')
    }
    if ((length === undefined) === (defer === undefined)) {
      throw new InvalidHeaderError(
        'a new upload needs either Upload-Length or Upload-Defer-Length: 1 (not both)',
      )
    }
    if (length !== undefined && length > hashing.maxBodySize) {
      throw new BodyTooLargeError(hashing.maxBodySize)
    }
    if (exchange.fieldsError) throw exchange.fieldsError
    const rawMetadata = headerText(req, 'upload-metadata')
    const metadata = parseUploadMetadata(rawMetadata)
    const requested = metadata.get('algorithm')
    const algorithms = requested ? parseAlgorithms(requested) : hashing.defaults
    const declared = declaredDigests(exchange, metadata)
    const withData = hasBody(req)
    if (withData && !isOffsetStream(req)) throw new UnsupportedMediaTypeError()
    const checks = withData ? patchChecks(exchange) : []
    if (receiving() + creating >= maxUploads) {
      res.setHeader('Retry-After', RETRY_AFTER_SECONDS)
      throw new TooManyUploadsError(maxUploads)
    }
    const record: UploadRecord = {
      id: randomBytes(16).toString('hex'),
      ...(length === undefined ? {} : { length }),
      metadata: rawMetadata,
      algorithms: [...new Set([...algorithms, ...declared.map((d) => d.algorithm)])],
      declared: declared.map(({ key, algorithm, value }) => ({
        header: 'repr-digest',
        key,
        algorithm,
        base64: value.toString('base64'),
      })),
      state: 'receiving',
      touchedAt: Date.now(),
    }
    creating++
    try {
      await directory.create(record)
    } finally {
      creating--
    }
    const upload = new TusUpload(directory, record, 0)
    uploads.set(record.id, upload)
    res.setHeader('Location', `${base}${record.id}`)
    const release = await upload.lock.acquire(() => req.destroy())
    try {
      if (withData || upload.complete) await receive(exchange, upload, checks)
      describe(exchange, upload)
    } catch (error) {
      // Refused data (a checksum, a size): no upload is left behind for the client to forget.
      if (error instanceof HashServerError) {
        uploads.delete(record.id)
        await directory.remove(record.id)
        res.removeHeader('Location')
      }
      throw error
    } finally {
      release()
    }
    exchange.sendEmpty(201)
  }

  async function head(exchange: Exchange, upload: TusUpload): Promise<void> {
    const { res } = exchange
    const release = await upload.lock.acquire()
    try {
      const { record } = upload
      if (record.state === 'gone') throw new UploadGoneError(record.reason ?? 'terminated')
      // Complete but not finished: the process stopped between the last byte and the store.
      if (record.state === 'receiving' && upload.complete) {
        await finish(upload).catch((error: unknown) => {
          throw error instanceof ChecksumMismatchError ? new UploadGoneError(error.message) : error
        })
      }
      res.setHeader('Cache-Control', 'no-store')
      if (record.length === undefined) res.setHeader('Upload-Defer-Length', 1)
      else res.setHeader('Upload-Length', record.length)
      if (record.metadata !== undefined) res.setHeader('Upload-Metadata', record.metadata)
      describe(exchange, upload)
    } finally {
      release()
    }
    exchange.sendEmpty(200)
  }

  async function patch(exchange: Exchange, upload: TusUpload): Promise<void> {
    const { req } = exchange
    if (!isOffsetStream(req)) throw new UnsupportedMediaTypeError()
    const offset = byteCountHeader(req, 'Upload-Offset')
    if (offset === undefined) throw new InvalidHeaderError('a PATCH needs an Upload-Offset header')
    const length = byteCountHeader(req, 'Upload-Length')
    if (exchange.fieldsError) throw exchange.fieldsError
    const checks = patchChecks(exchange)
    const release = await upload.lock.acquire(() => req.destroy())
    try {
      const { record } = upload
      if (record.state === 'gone') throw new UploadGoneError(record.reason ?? 'terminated')
      if (offset !== upload.offset) throw new OffsetConflictError(offset, upload.offset)
      if (length !== undefined && length !== record.length) {
        if (record.length !== undefined) {
          throw new InvalidHeaderError(
            `Upload-Length ${length} differs from the upload's length (${record.length})`,
          )
        }
        if (length < upload.offset) throw new UploadLengthExceededError(length)
        if (length > hashing.maxBodySize) throw new BodyTooLargeError(hashing.maxBodySize)
        record.length = length
        await directory.save(record)
      }
      if (record.state === 'done') {
        if (hasBody(req)) throw new UploadLengthExceededError(record.length ?? upload.offset)
      } else {
        await receive(exchange, upload, checks)
      }
      describe(exchange, upload)
    } finally {
      release()
    }
    exchange.sendEmpty(204)
  }

  async function remove(exchange: Exchange, upload: TusUpload): Promise<void> {
    const release = await upload.lock.acquire()
    try {
      const { record } = upload
      if (record.state === 'gone') throw new UploadGoneError(record.reason ?? 'terminated')
      await terminate(upload, 'terminated by its client (DELETE)')
    } finally {
      release()
    }
    exchange.sendEmpty(204)
  }

  return {
    ready,
    matches: (pathname) => pathname === base.slice(0, -1) || pathname.startsWith(base),
    get inProgress() {
      return receiving()
    },
    close: () => clearInterval(sweep),
    async handle(exchange, authorize) {
      const { req, res, url } = exchange
      res.setHeader('Tus-Resumable', TUS_VERSION)
      const override = req.headers['x-http-method-override']
      const method =
        req.method === 'POST' && typeof override === 'string' ? override.toUpperCase() : req.method
      if (method === 'OPTIONS') {
        setOptionsHeaders(exchange)
        return exchange.sendEmpty(204)
      }
      authorize()
      const version = req.headers['tus-resumable']
      if (version !== TUS_VERSION) {
        res.setHeader('Tus-Version', TUS_VERSION)
        throw new TusVersionError(version as string | undefined)
      }
      await ready
      const id = url.pathname.startsWith(base) ? url.pathname.slice(base.length) : ''
      if (id === '') {
        if (method === 'POST') return create(exchange)
        res.setHeader('Allow', 'OPTIONS, POST')
        return exchange.send(405, 'create an upload with POST (tus 1.0 creation)\n')
      }
      const upload = isUploadId(id) ? uploads.get(id) : undefined
      if (upload === undefined) throw new UploadNotFoundError()
      if (method === 'HEAD') return head(exchange, upload)
      if (method === 'PATCH') return patch(exchange, upload)
      if (method === 'DELETE') return remove(exchange, upload)
      res.setHeader('Allow', 'OPTIONS, HEAD, PATCH, DELETE')
      exchange.send(405, 'an upload answers HEAD, PATCH and DELETE (tus 1.0)\n')
    },
  }
}
