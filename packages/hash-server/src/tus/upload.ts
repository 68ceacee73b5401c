import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { type Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { writeAll } from '@sluice/internal/fs'
import { BodyTooLargeError, ChecksumMismatchError, UploadLengthExceededError } from '../errors.js'
import type { ObjectStore } from '../store/index.js'
import type { UploadDirectory, UploadRecord } from './upload-directory.js'
import { UploadLock } from './upload-lock.js'

/** A digest one PATCH must match, all or nothing: `Upload-Checksum`, or `Content-Digest`. */
export interface PatchCheck {
  /** How the request named it, for the message: `Upload-Checksum`, `Content-Digest sha-256`. */
  readonly label: string
  readonly algorithm: string
  readonly value: Buffer
}

const READ_BACK_BYTES = 1024 * 1024

function mismatch(label: string, sent: Buffer, computed: Buffer, consequence: string): string {
  return `${label} mismatch: the request says ${sent.toString('base64')}, the bytes hash to ${computed.toString('base64')}; ${consequence}`
}

/**
 * One tus upload: its record, its offset (the bytes its data file holds), and the digest state of
 * the whole upload, which covers exactly the bytes kept. The state lives in memory; after a
 * restart (or a failed write) it is rebuilt by reading the kept bytes again, once, before the
 * next byte is taken.
 */
export class TusUpload {
  readonly record: UploadRecord
  readonly lock: UploadLock = new UploadLock()
  offset: number
  readonly #directory: UploadDirectory
  /** Digest state per algorithm of `record.algorithms`, over bytes [0, offset); or none yet. */
  #hashes: Hash[] | undefined

  constructor(directory: UploadDirectory, record: UploadRecord, offset: number) {
    this.#directory = directory
    this.record = record
    this.offset = offset
    if (offset === 0) this.#hashes = record.algorithms.map((algorithm) => createHash(algorithm))
  }

  get id(): string {
    return this.record.id
  }

  /** Every byte announced is here (the length is known and reached). */
  get complete(): boolean {
    return this.record.length !== undefined && this.offset === this.record.length
  }

  async #hashesNow(): Promise<Hash[]> {
    if (this.#hashes) return this.#hashes
    const hashes = this.record.algorithms.map((algorithm) => createHash(algorithm))
    if (this.offset > 0) {
      const kept = createReadStream(this.#directory.dataPath(this.id), {
        start: 0,
        end: this.offset - 1,
        highWaterMark: READ_BACK_BYTES,
      })
      for await (const chunk of kept) for (const hash of hashes) hash.update(chunk as Buffer)
    }
    this.#hashes = hashes
    return hashes
  }

  /**
   * Appends a PATCH's body at the offset, hashing it into the upload's digests. Bytes are kept as
   * they are written, so a body that breaks off keeps what arrived (tus); with `checks` the PATCH
   * is all or nothing: on a mismatch or a break the data file is cut back to where the PATCH
   * started and the digest state restored from a copy taken then.
   *
   * @param openBody opens the PATCH's body; called once the upload is ready to write it, so that
   *   a body that breaks off while the digest state is read back fails into the pipeline
   * @param onBytes called with each batch of bytes written (for counters)
   * @throws {ChecksumMismatchError} when a check fails (nothing of the PATCH is kept)
   * @throws {UploadLengthExceededError} past `Upload-Length`; {BodyTooLargeError} past `maxBytes`
   */
  async receive(
    openBody: () => Readable,
    checks: readonly PatchCheck[],
    maxBytes: number,
    onBytes: (bytes: number) => void,
  ): Promise<void> {
    const hashes = await this.#hashesNow()
    const start = this.offset
    const snapshot = checks.length > 0 ? hashes.map((hash) => hash.copy()) : undefined
    const checkHashes = checks.map((check) => createHash(check.algorithm))
    if (snapshot) {
      // Should the process stop before the check, the next one cuts these bytes off at start.
      this.record.checkingFrom = start
      await this.#directory.save(this.record)
    }
    const file = await this.#directory.openData(this.id)
    const appender = this.#appender(file, [...hashes, ...checkHashes], maxBytes, onBytes)
    try {
      await pipeline(openBody(), appender.stream).catch(async (error: unknown) => {
        // A broken body fails the pipeline at once: the batch being written still counts.
        await appender.settled()
        throw error
      })
      checks.forEach((check, i) => {
        const computed = checkHashes[i]?.digest() as Buffer
        if (!computed.equals(check.value)) {
          throw new ChecksumMismatchError(
            mismatch(check.label, check.value, computed, `the PATCH's bytes are not kept`),
          )
        }
      })
      await file.datasync()
    } catch (error) {
      if (snapshot) await this.#rollBack(file, start, snapshot)
      else await file.datasync().catch(() => {})
      throw error
    } finally {
      await file.close()
      if (snapshot) {
        delete this.record.checkingFrom
        await this.#directory.save(this.record)
      }
    }
  }

  /**
   * A Writable that writes at the offset, then moves the offset and hashes what it wrote; and
   * what settles once the write under way (if any) has.
   */
  #appender(
    file: FileHandle,
    hashes: readonly Hash[],
    maxBytes: number,
    onBytes: (bytes: number) => void,
  ): { stream: Writable; settled(): Promise<void> } {
    let writing: Promise<void> = Promise.resolve()
    const stream = new Writable({
      highWaterMark: 256 * 1024,
      writev: (entries, callback) => {
        const chunks = entries.map((entry) => entry.chunk as Buffer)
        const bytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0)
        const { length } = this.record
        if (length !== undefined && this.offset + bytes > length) {
          callback(new UploadLengthExceededError(length))
          return
        }
        if (this.offset + bytes > maxBytes) {
          callback(new BodyTooLargeError(maxBytes))
          return
        }
        writing = writeAll(file, chunks, this.offset).then(
          () => {
            this.offset += bytes
            for (const hash of hashes) for (const chunk of chunks) hash.update(chunk)
            onBytes(bytes)
            callback()
          },
          async (error: unknown) => {
            // Part of the batch may be on disk past the offset: cut it off, so the file is the offset.
            await file.truncate(this.offset).catch(() => {})
            callback(error as Error)
          },
        )
      },
    })
    return { stream, settled: () => writing }
  }

  async #rollBack(file: FileHandle, start: number, snapshot: Hash[]): Promise<void> {
    try {
      await file.truncate(start)
      this.offset = start
      this.#hashes = snapshot
    } catch {
      // The bytes could not be taken back: the offset is what the file holds, and the digest
      // state is rebuilt from the file on the next request.
      this.offset = await file.stat().then(
        (info) => info.size,
        () => this.offset,
      )
      this.#hashes = undefined
    }
    await file.datasync().catch(() => {})
  }

  /**
   * The digests of the whole upload (it must be complete), by algorithm. The state is copied, so
   * that a failure after this (the store refusing) can be tried again.
   */
  async digests(): Promise<Map<string, Buffer>> {
    const hashes = await this.#hashesNow()
    return new Map(
      this.record.algorithms.map((algorithm, i) => [
        algorithm,
        hashes[i]?.copy().digest() as Buffer,
      ]),
    )
  }

  /**
   * Stores the complete upload as `<first algorithm>/<hex>`: moved there by a store that can
   * (a directory on the same filesystem), else written through the store, straight to its name
   * since its digest is known. Resolves with the object's path.
   */
  async store(store: ObjectStore, algorithm: string, hex: string): Promise<string> {
    const moved = await store.adopt?.(this.#directory.dataPath(this.id), algorithm, hex)
    if (moved !== undefined) return moved
    const pending = await store.begin({ size: this.offset, declared: { algorithm, hex } })
    try {
      const data = createReadStream(this.#directory.dataPath(this.id), {
        highWaterMark: READ_BACK_BYTES,
      })
      await pipeline(
        data,
        new Writable({
          writev: (entries, callback) => {
            pending
              .write(entries.map((entry) => entry.chunk as Buffer))
              .then(() => callback(), callback)
          },
        }),
      )
      return await pending.commit(algorithm, hex)
    } finally {
      await pending.discard()
    }
  }
}
