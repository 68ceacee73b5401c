/** Reconnection attempts when the caller asks for `true`. */
export const DEFAULT_ATTEMPTS = 10

/** How many attempts a `reconnect` option asks for. */
export function attemptsOf(reconnect: boolean | number | undefined): number {
  return reconnect === true ? DEFAULT_ATTEMPTS : typeof reconnect === 'number' ? reconnect : 0
}

/** Wait before reconnection attempt `failures + 1`: 100 ms, doubling, at most 5 s. */
export function retryDelay(failures: number): number {
  return Math.min(100 * 2 ** failures, 5_000)
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms))
