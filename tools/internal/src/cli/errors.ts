/** Bad usage of a command line: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** Ends a command with its message on stderr and an exit code. */
export class ExitError extends Error {
  override name = 'ExitError'
  readonly exitCode: number

  constructor(message: string, exitCode: number, options?: ErrorOptions) {
    super(message, options)
    this.exitCode = exitCode
  }
}

/** A server that cannot start (port in use, unusable storage): one line, exit code 1. */
export class CannotStartError extends ExitError {
  override name = 'CannotStartError'

  constructor(reason: string, options?: ErrorOptions) {
    super(`cannot start: ${reason}`, 1, options)
  }
}
