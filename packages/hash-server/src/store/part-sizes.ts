const MiB = 1024 * 1024

/** S3's smallest part (all but the last) and largest part. */
export const MIN_PART_SIZE: number = 5 * MiB
export const MAX_PART_SIZE: number = 5 * 1024 * MiB

/**
 * The size of each part of a multipart upload (part numbers from 1), so that a body fits in
 * `maxParts` parts. With a known length every part gets the same size, at least `partSize`.
 * Without one, sizes double after every tenth of `maxParts`: with 8 MiB and 1,000 parts (Swift's
 * limit) the first 100 parts carry 800 MiB, all 1,000 about 800 GiB, and a body pays for larger
 * parts (memory) only once it is large.
 */
export function partSizes(
  partSize: number,
  maxParts: number,
  length?: number,
): (part: number) => number {
  if (length !== undefined) {
    const size = Math.min(
      MAX_PART_SIZE,
      Math.max(partSize, Math.ceil(length / maxParts / MiB) * MiB),
    )
    return () => size
  }
  const group = Math.max(1, Math.floor(maxParts / 10))
  return (part) => Math.min(MAX_PART_SIZE, partSize * 2 ** Math.floor((part - 1) / group))
}

/**
 * The size of each part (from 1) of a body of known length streamed as it arrives: nothing is
 * held, so parts are as large as S3 allows. Fewer parts are fewer requests: on Swift here one
 * 1 GiB part is sent at 230 MiB/s, 8 MiB parts one after another at 90.
 */
export function streamedPartSizes(length: number): (part: number) => number {
  const size = Math.ceil(length / Math.ceil(length / MAX_PART_SIZE))
  return (part) => Math.max(0, Math.min(size, length - (part - 1) * size))
}
