// Whether a command may be sent now. ioredis queues commands while it is not connected and sends
// them when the connection returns, possibly long after the request that made them was answered
// 503; the plugin never lets it: a command is sent only while the client is ready. While a
// connection attempt is under way (at start, or a reconnect) a call may wait for it, within its
// deadline, and is then sent or refused, never queued. Between attempts (Redis down) it fails at once.
import type { RedisClient } from './types'

/** Statuses in which a connection attempt is under way (standalone and Cluster alike). */
const CONNECTING = new Set(['connecting', 'connect'])

export class Readiness {
  readonly #redis: RedisClient
  /** Calls waiting for the current connection attempt: told true when it ends ready, false otherwise. */
  #waiting: Array<(ready: boolean) => void> | undefined

  constructor (redis: RedisClient) {
    this.#redis = redis
  }

  get ready (): boolean { return this.#redis.status === 'ready' }

  /** Whether waiting can help: a connection attempt is under way. */
  get connecting (): boolean { return CONNECTING.has(this.#redis.status) }

  /** Called with true once the attempt under way ends ready, with false when it fails. */
  whenReady (then: (ready: boolean) => void): void {
    if (this.#waiting !== undefined) {
      this.#waiting.push(then)
      return
    }
    const waiting = [then]
    this.#waiting = waiting
    const redis = this.#redis
    const finish = (ready: boolean): void => {
      redis.removeListener('ready', onReady)
      redis.removeListener('close', onClose)
      redis.removeListener('end', onClose)
      this.#waiting = undefined
      for (const waiter of waiting) waiter(ready)
    }
    const onReady = (): void => { finish(true) }
    const onClose = (): void => { finish(false) }
    redis.once('ready', onReady)
    redis.once('close', onClose)
    redis.once('end', onClose)
  }
}
