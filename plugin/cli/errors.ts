// Exit codes, and the one error type the CLI prints as a single line.

export const EXIT = {
  OK: 0,
  /** Something unexpected: a bug, or a Redis reply we did not foresee. */
  FAILED: 1,
  /** A wrong command line: the message says what to change. */
  USAGE: 2,
  /** show or delete found no such session. */
  NOT_FOUND: 3,
  /** Redis could not be reached, or stopped answering. */
  UNREACHABLE: 4
} as const

export class CliError extends Error {
  readonly exitCode: number

  constructor (exitCode: number, message: string) {
    super(message)
    this.name = 'CliError'
    this.exitCode = exitCode
  }
}
