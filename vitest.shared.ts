import { defineConfig, type ViteUserConfig } from 'vitest/config'

/**
 * The test settings of every workspace package (each package's vitest.config.ts re-exports it).
 * Timeouts guard hangs, never results: they are far above what any test needs on an idle machine,
 * so that the suite also passes with every core busy (`pnpm test:loaded`).
 */
const config: ViteUserConfig = defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A condition polled for (a gauge reaching 200 held requests, a file gone) may take seconds
    // on a loaded machine: 10 s unless a test says otherwise, not vitest's 1 s.
    expect: { poll: { timeout: 10_000 } },
  },
})

export default config
