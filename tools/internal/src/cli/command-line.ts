/**
 * The front of every sluice server CLI: reads the options with `read`, which returns undefined
 * when `--help` was asked (the help is printed) or throws on bad usage (the message is printed
 * with a hint, exit code 2). Resolves with the options, or undefined when there is nothing to run.
 */
export async function readCommandLine<T>(
  name: string,
  help: string,
  read: () => T | undefined | Promise<T | undefined>,
): Promise<T | undefined> {
  let options: T | undefined
  try {
    options = await read()
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`${name}: ${message}\nTry '${name} --help'.\n`)
    process.exitCode = 2
    return undefined
  }
  if (options === undefined) process.stdout.write(`${help}\n`)
  return options
}
