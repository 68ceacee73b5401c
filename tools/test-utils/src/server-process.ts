import { type ChildProcessByStdio, spawn } from 'node:child_process'
import type { Readable } from 'node:stream'
import { cleanUpAfterTest } from './cleanup.js'

/** A server CLI running as a child process. */
export interface ServerProcess {
  readonly child: ChildProcessByStdio<null, Readable, null>
  /** The URL the server printed (`… listening on URL`). */
  readonly url: string
  /** Everything it printed on stdout so far. */
  output(): string
  /** Sends SIGTERM and resolves with the exit code (null if killed by a signal). */
  stop(): Promise<number | null>
}

/**
 * Starts a server CLI and resolves once it prints `listening on URL` (the convention of every
 * sluice server CLI); rejects if it exits first. `env` is added to this process's environment.
 * stderr is passed through for diagnostics. Inside
 * a test, it is stopped when the test finishes.
 */
export async function startServerProcess(
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<ServerProcess> {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  })
  let output = ''
  child.stdout.setEncoding('utf8')
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      output += chunk
      const match = /listening on ([a-z]+:\/\/\S+)/.exec(output)
      if (match?.[1]) resolve(match[1])
    })
    child.once('exit', (code) =>
      reject(new Error(`${command} exited with ${code} before listening`)),
    )
    // Spawning failed (no such command), or a later kill did: never an unheard 'error'.
    child.on('error', reject)
  })
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  const server: ServerProcess = {
    child,
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      return exited
    },
  }
  cleanUpAfterTest(server.stop)
  return server
}
