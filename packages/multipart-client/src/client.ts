import { closingDelimiter, createBoundary, encodePart } from './encode.js'
import { EarlyResponseError, InvalidArgumentError, type MultipartClientError } from './errors.js'
import {
  type FileSource,
  type PartOptions,
  type PreparedPart,
  preparePart,
  releaseSource,
} from './parts.js'
import { type RequestOptions, sendRequest, type UploadResponse } from './request.js'

/** Options of {@link MultipartClient}: the request's, and the default field name. */
export interface MultipartClientOptions extends RequestOptions {
  /** Field name of parts sent without one (default `file`). */
  readonly fieldName?: string
}

interface Queued {
  readonly source: FileSource
  readonly prepared: Promise<PreparedPart>
  resolve(): void
  reject(error: Error): void
}

const END = Symbol('end')

/**
 * An incremental upload, shaped like the Go multipart clients' New, Send, SendUnclose and Close: one request,
 * one connection, one multipart body that grows part by part. The request starts with the first
 * part and is chunked (sizes are not known in advance). Nothing is sent twice and nothing is
 * retried; use {@link upload} for retries and Content-Length.
 *
 * @example
 * const client = new MultipartClient('http://127.0.0.1:8080/')
 * await client.sendUnclose({ path: 'a.bin' })
 * await client.sendUnclose({ path: 'b.bin' }, { name: 'second' })
 * const res = await client.close()
 */
export class MultipartClient {
  readonly #url: string | URL
  readonly #options: MultipartClientOptions
  readonly #boundary = createBoundary()
  readonly #queue: Array<Queued | typeof END> = []
  #wake: (() => void) | undefined
  /** The part being sent now (taken off the queue). */
  #current: Queued | undefined
  #response: Promise<UploadResponse> | undefined
  #failure: MultipartClientError | undefined
  #closed = false

  constructor(url: string | URL, options: MultipartClientOptions = {}) {
    this.#url = url
    this.#options = options
  }

  /**
   * Adds a part to the body. Resolves once its last byte has been handed to the socket (after
   * backpressure); rejects with the request's error, or `MPC_ERR_EARLY_RESPONSE` when the server
   * answered before this part was sent.
   */
  sendUnclose(source: FileSource, part: PartOptions = {}): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new InvalidArgumentError('the client is closed: create a new one'))
    }
    if (this.#failure) return Promise.reject(this.#failure)
    const name = part.name ?? this.#options.fieldName ?? 'file'
    const described = { ...part, name, source } as Parameters<typeof preparePart>[0]
    return new Promise<void>((resolve, reject) => {
      const prepared = preparePart(described, this.#boundary)
      prepared.catch(() => {})
      this.#push({ source, prepared, resolve, reject })
      // The response is awaited by close(); its failure reaches each part through the queue.
      void this.#start()
    })
  }

  /** Adds one part and finishes the body; resolves with the response (the Go clients' `Send`). */
  async send(source: FileSource, part: PartOptions = {}): Promise<UploadResponse> {
    const sent = this.sendUnclose(source, part)
    const response = this.close()
    await sent.catch((error: unknown) => {
      if (!(error instanceof EarlyResponseError)) throw error
    })
    return response
  }

  /** Writes the closing boundary and resolves with the response. */
  close(): Promise<UploadResponse> {
    if (!this.#closed) {
      this.#closed = true
      this.#push(END)
    }
    return this.#start()
  }

  #push(item: Queued | typeof END): void {
    this.#queue.push(item)
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  async #next(): Promise<Queued | typeof END> {
    for (;;) {
      const item = this.#queue.shift()
      if (item !== undefined) return item
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
    }
  }

  async *#body(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const item = await this.#next()
      if (item === END) {
        yield closingDelimiter(this.#boundary)
        return
      }
      this.#current = item
      try {
        yield* encodePart(await item.prepared, () => {})
        item.resolve()
      } catch (error) {
        item.reject(error as Error)
        throw error
      } finally {
        this.#current = undefined
      }
    }
  }

  #start(): Promise<UploadResponse> {
    if (this.#response === undefined) {
      const body = this.#body()
      const request = sendRequest(this.#url, body, this.#boundary, undefined, this.#options)
      // Whatever ends the request ends the body: a part being read is closed (its file too).
      const endBody = () => body.return(undefined).catch(() => {})
      this.#response = request.then(
        async (response) => {
          this.#settleQueue(new EarlyResponseError(response.status))
          await endBody()
          return response
        },
        async (error: MultipartClientError) => {
          this.#failure = error
          this.#settleQueue(error)
          await endBody()
          throw error
        },
      )
      this.#response.catch(() => {})
    }
    return this.#response
  }

  /** Parts not (completely) sent when the request ends reject; settled ones are unaffected. */
  #settleQueue(error: Error): void {
    this.#closed = true
    this.#current?.reject(error)
    for (const item of this.#queue.splice(0)) {
      if (item === END) continue
      releaseSource(item.source)
      item.reject(error)
    }
  }
}
