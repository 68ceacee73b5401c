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
  },
})

export default config
