import { defineConfig, type Options } from 'tsup'

/**
 * The build of every published package: ESM only, `.d.ts` for the library entry, Node 20
 * syntax. Private workspace code (`@sluice/internal`) is bundled in, so nothing private is ever
 * a published dependency.
 */
export function packageBuild(entry: readonly string[]): Options {
  return defineConfig({
    entry: [...entry],
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: {
      entry: 'src/index.ts',
      // The private layer's declarations are inlined as its code is: no published file names
      // @sluice/internal (its package exports point at sources, which tsup's resolver cannot read).
      compilerOptions: { paths: { '@sluice/internal/*': ['../../tools/internal/src/*/index.ts'] } },
    },
    clean: true,
    splitting: true,
    noExternal: [/^@sluice\/internal(\/|$)/],
  }) as Options
}
