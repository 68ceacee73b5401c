import { spawnSync } from 'node:child_process'
import { missingTool } from './tool.js'

/** unshare's flags for a private mount namespace: as any user (user namespace) or as root. */
const VARIANTS = [['--user', '--map-root-user', '--mount'], ['--mount']] as const
let working: readonly string[] | undefined

/**
 * Why a command cannot run here with a small tmpfs of its own (a private mount namespace made
 * with `unshare`: in a user namespace where they are allowed, else as root), or undefined when it
 * can. Skips with the reason, or throws under SLUICE_REQUIRE_TOOLS=1, like {@link missingTool}.
 */
export function missingSmallDisk(): string | undefined {
  const probe = ['sh', '-c', 'mount -t tmpfs -o size=64k tmpfs /mnt']
  working ??= VARIANTS.find(
    (flags) => spawnSync('unshare', [...flags, ...probe], { stdio: 'ignore' }).status === 0,
  )
  if (working !== undefined) return undefined
  // Not possible here: say why, the way missingTool does.
  return missingTool('unshare', [...VARIANTS[0], ...probe])
}

/**
 * `command args` run with `dir` a tmpfs of `bytes` that only this process sees, so that a test
 * meets a real ENOSPC. Call {@link missingSmallDisk} first. Returns what to pass to spawn.
 */
export function onSmallDisk(
  dir: string,
  bytes: number,
  command: string,
  args: readonly string[],
): [string, string[]] {
  return [
    'unshare',
    [
      ...(working ?? VARIANTS[0]),
      'sh',
      '-c',
      `mount -t tmpfs -o size=${bytes} tmpfs "$0" && exec "$@"`,
      dir,
      command,
      ...args,
    ],
  ]
}
