// One deadline per request: every Redis call a request makes (the load in onRequest, the handler's
// calls, the write in onSend) spends from one budget of `timeout` milliseconds of waiting, so a
// request never waits for Redis longer than that in total. Calls that overlap spend the same time
// once. One timer runs while any call is outstanding, instead of a timer per call.

/** Called with the error when the budget runs out while the call waits. */
export type Expire = (reason: string) => void

export class Deadline {
  readonly #budget: number
  /** Milliseconds of waiting left; Infinity when the budget is unlimited (`timeout: 0`). */
  #left: number
  /** Calls waiting now, in the order they started. */
  readonly #waiting: Expire[] = []
  /** When the current stretch of waiting began. */
  #since = 0
  #timer: NodeJS.Timeout | undefined

  constructor (budgetMs: number) {
    this.#budget = budgetMs
    this.#left = budgetMs === 0 ? Infinity : budgetMs
  }

  /** Whether any budget is left: a call must not be sent when there is none. */
  get expired (): boolean { return this.#left <= 0 }

  /** Why a call fails when the budget is spent. */
  get reason (): string { return `no answer within the request's ${this.#budget} ms` }

  /** A call starts waiting; `expire` is called if the budget runs out before `settle()`. */
  wait (expire: Expire): void {
    if (this.#waiting.length === 0) {
      this.#since = Date.now()
      if (this.#left !== Infinity) {
        this.#timer = setTimeout(() => this.#fire(), this.#left)
        this.#timer.unref()
      }
    }
    this.#waiting.push(expire)
  }

  /** The call answered (or failed) before the budget ran out. */
  settle (expire: Expire): void {
    const i = this.#waiting.indexOf(expire)
    if (i === -1) return
    this.#waiting.splice(i, 1)
    if (this.#waiting.length === 0) this.#pause()
  }

  #pause (): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    this.#left -= Date.now() - this.#since
  }

  #fire (): void {
    this.#timer = undefined
    this.#left = 0
    for (const expire of this.#waiting.splice(0)) expire(this.reason)
  }
}
