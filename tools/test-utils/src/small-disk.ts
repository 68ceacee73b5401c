import { missingTool } from './tool.js'

/**
 * Why a command cannot run here with a small tmpfs of its own (a private mount namespace made
 * with `unshare`, no root needed where user namespaces are allowed), or undefined when it can.
 * Skips with the reason, or throws under SLUICE_REQUIRE_TOOLS=1, like {@link missingTool}.
 */
export function missingSmallDisk(): string | undefined {
  return missingTool('unshare', [
    '--user',
    '--map-root-user',
    '--mount',
    'sh',
    '-c',
    'mount -t tmpfs -o size=64k tmpfs /mnt',
  ])
}

/**
 * `command args` as run on a full-disk-capable directory: `dir` becomes a tmpfs of `bytes` seen
 * only by that process, so that a test meets a real ENOSPC. Returns what to pass to spawn.
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
      '--user',
      '--map-root-user',
      '--mount',
      'sh',
      '-c',
      `mount -t tmpfs -o size=${bytes} tmpfs "$0" && exec "$@"`,
      dir,
      command,
      ...args,
    ],
  ]
}
