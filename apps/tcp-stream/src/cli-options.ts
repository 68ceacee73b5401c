/** Bad usage of a tcp-stream command line (exit code 2). */
export class UsageError extends Error {}

/** A required port option: missing or not a TCP port is bad usage. */
export function portOption(name: string, text: string | undefined): number {
  if (text === undefined) throw new UsageError(`--${name} N is required`)
  const port = Number(text)
  if (!/^\d+$/.test(text) || port > 65535)
    throw new UsageError(`--${name}: "${text}" is not a TCP port`)
  return port
}

export function countOption(
  name: string,
  text: string | undefined,
  what = 'byte count',
): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--${name}: "${text}" is not a ${what}`)
  }
  return Number(text)
}
