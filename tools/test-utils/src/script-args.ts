/**
 * A script's arguments for `parseArgs`: pnpm passes a `--` through (`pnpm bench:x -- --runs 5`),
 * which parseArgs would take for the end of the options.
 */
export function benchArgs(): string[] {
  const args = process.argv.slice(2)
  return args[0] === '--' ? args.slice(1) : args
}
