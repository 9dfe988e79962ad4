// Warnings about a degraded Redis (read-only, out of memory) would come with every request; each
// kind is logged at most once per interval, with how many were left out since.
export interface WarningLog {
  warn: (obj: object, msg: string) => void
}

const INTERVAL_MS = 60_000

export class Warnings {
  readonly #log: WarningLog | undefined
  readonly #last = new Map<string, { at: number, skipped: number }>()

  constructor (log: WarningLog | undefined) {
    this.#log = log
  }

  /** `scope` throttles apart what shares a kind (one per server, say); default: the kind. */
  warn (kind: string, message: string, scope = kind): void {
    if (this.#log === undefined) return
    const now = Date.now()
    const last = this.#last.get(scope)
    if (last !== undefined && now - last.at < INTERVAL_MS) {
      last.skipped++
      return
    }
    this.#last.set(scope, { at: now, skipped: 0 })
    this.#log.warn({ kind, skippedSinceLast: last?.skipped ?? 0 }, message)
  }
}
