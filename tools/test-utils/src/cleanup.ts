import { onTestFinished } from 'vitest'

/**
 * Runs `cleanup` when the current test finishes, pass or fail, when called inside a test.
 * Elsewhere (a `beforeAll`, a benchmark script) it does nothing: the caller cleans up itself.
 */
export function cleanUpAfterTest(cleanup: () => Promise<unknown> | unknown): void {
  try {
    onTestFinished(async () => {
      await cleanup()
    })
  } catch {
    // Not inside a running test.
  }
}
