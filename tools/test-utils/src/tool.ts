import { spawnSync } from 'node:child_process'

/**
 * Why the external `command` (nginx, chromium, ffmpeg) cannot run here, or undefined when it can.
 * A test suite skips on a reason, which is printed, never silent. Where the tools were installed
 * on purpose (`.ci/run` sets SLUICE_REQUIRE_TOOLS=1 after installing them) a missing one throws, so
 * that CI cannot pass by skipping.
 */
export function missingTool(
  command: string,
  args: readonly string[] = ['--version'],
): string | undefined {
  const probe = spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 })
  const reason = probe.error
    ? `${command} cannot run (${probe.error.message})`
    : probe.status === 0
      ? undefined
      : `${command} ${args.join(' ')} exited with ${probe.status ?? probe.signal}`
  if (reason === undefined) return undefined
  if (process.env['SLUICE_REQUIRE_TOOLS'] === '1') {
    throw new Error(`${reason}, and SLUICE_REQUIRE_TOOLS=1 says it must be installed`)
  }
  console.warn(`skipping tests that need ${command}: ${reason}`)
  return reason
}
