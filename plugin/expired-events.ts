// The `expired` event's source: Redis keyspace notifications. When Redis deletes a key whose TTL ran
// out it publishes the key's name on `__keyevent@<db>__:expired`, if its notify-keyspace-events
// setting asks for it (flags E and x; off by default). Pub/sub here is per server: on a Cluster each
// master publishes only its own keys, so there is one subscriber connection per master, kept in step
// with the cluster's masters as they change. Every time a subscriber connects (a Redis restart loses
// a CONFIG SET) it reads the server's setting first and, with 'configure', adds what is missing;
// otherwise it only warns. It then subscribes, and ioredis's own resubscribe is off so that this order holds.
//
// Best-effort by nature: a notification published while a subscriber is disconnected is lost, Redis
// publishes when it deletes the key (at or after the expiry, when a lookup or its background cycle
// meets it), and every process that subscribes receives every notification.
import type { Warnings } from './warnings'

/** The ioredis members a subscriber needs, of a standalone client or a Cluster's node. */
interface Node {
  readonly options: { host?: string, port?: number, db?: number, name?: string, sentinels?: unknown[] | null }
  readonly status: string
  duplicate: (override?: object) => Node
  config: (subcommand: 'GET' | 'SET', ...args: string[]) => Promise<unknown>
  subscribe: (channel: string) => Promise<unknown>
  on: (event: string, listener: (...args: any[]) => void) => unknown
  disconnect: (reconnect?: boolean) => void
}

interface ClusterLike {
  readonly isCluster: true
  readonly status: string
  nodes: (role: 'master') => Node[]
  on: (event: string, listener: () => void) => unknown
  off: (event: string, listener: () => void) => unknown
}

export type ExpiredEventsMode = true | 'configure'

/** Whether a notify-keyspace-events value makes Redis publish expired-key events. */
export function publishesExpired (flags: string): boolean {
  return flags.includes('E') && (flags.includes('x') || flags.includes('A'))
}

/** The setting with what expired-key events need added to it. */
export function withExpired (flags: string): string {
  return flags + (flags.includes('E') ? '' : 'E') + (flags.includes('x') || flags.includes('A') ? '' : 'x')
}

/** host:port, or for a Sentinel-managed client the master's name. */
function describeServer (node: Node): string {
  const { sentinels, name } = node.options
  if (Array.isArray(sentinels) && sentinels.length > 0) return `the Sentinel master "${name ?? 'mymaster'}"`
  return `${node.options.host ?? 'localhost'}:${node.options.port ?? 6379}`
}

function reconnectDelay (attempt: number): number {
  return Math.min(attempt * 200, 2000)
}

/** One connection to one server, subscribed to its expired-key events; it re-arms on every reconnect. */
class Subscriber {
  readonly #connection: Node
  readonly #where: string
  #closed = false

  constructor (source: Node, mode: ExpiredEventsMode, onKey: (key: string) => void, warnings: Warnings) {
    const channel = `__keyevent@${source.options.db ?? 0}__:expired`
    this.#where = describeServer(source)
    // A connection of its own (a subscribed one can send nothing else), with the source's options:
    // its address, Sentinel and TLS settings, password, db.
    // It reconnects until closed (a Cluster's own node connections do not: the cluster refreshes instead).
    const connection = this.#connection = source.duplicate({
      autoResubscribe: false, lazyConnect: false, enableOfflineQueue: true, readOnly: false, retryStrategy: reconnectDelay
    })
    // Warnings are throttled per server, so one master's trouble never hides another's.
    connection.on('error', (err: Error) => {
      warnings.warn('EXPIRED_EVENTS', `fastify-redis-hash-session: the expired-events subscriber for ${this.#where} lost its connection (${err.message}); "expired" events from that server are missed until it reconnects`, 'EXPIRED_EVENTS ' + this.#where)
    })
    connection.on('message', (from: string, key: string) => { if (from === channel) onKey(key) })
    connection.on('ready', () => {
      this.#arm(mode, channel, warnings).catch((err: Error) => {
        if (this.#closed) return
        warnings.warn('EXPIRED_EVENTS', `fastify-redis-hash-session: could not subscribe to expired-key events on ${this.#where} (${err.message}); "expired" events from it are missed until the subscriber reconnects`, 'EXPIRED_EVENTS ' + this.#where)
      })
    })
  }

  async #arm (mode: ExpiredEventsMode, channel: string, warnings: Warnings): Promise<void> {
    let flags: string | undefined
    try {
      const reply = await this.#connection.config('GET', 'notify-keyspace-events') as string[]
      flags = reply[1] ?? ''
    } catch (err) {
      // A managed Redis may refuse (or rename) CONFIG: the setting is then the operator's to check.
      warnings.warn('EXPIRED_EVENTS_CONFIG', `fastify-redis-hash-session: could not read notify-keyspace-events on ${this.#where} (${(err as Error).message}); "expired" events arrive only if it includes "Ex": set it in the server's configuration`, 'EXPIRED_EVENTS_CONFIG ' + this.#where)
    }
    if (flags !== undefined && !publishesExpired(flags)) {
      if (mode === 'configure') {
        try {
          await this.#connection.config('SET', 'notify-keyspace-events', withExpired(flags))
        } catch (err) {
          // Refused (an ACL, a managed Redis): subscribe all the same, for when the operator sets it.
          warnings.warn('EXPIRED_EVENTS_CONFIG', `fastify-redis-hash-session: Redis at ${this.#where} refused CONFIG SET notify-keyspace-events (${(err as Error).message}), so no "expired" events come from it: set notify-keyspace-events to include "Ex" in its configuration (it is ${JSON.stringify(flags)})`, 'EXPIRED_EVENTS_CONFIG ' + this.#where)
        }
      } else {
        warnings.warn('EXPIRED_EVENTS_CONFIG', `fastify-redis-hash-session: Redis at ${this.#where} does not publish expired-key events (notify-keyspace-events is ${JSON.stringify(flags)}), so no "expired" events come from it: add "Ex" to notify-keyspace-events in its configuration, or pass expiredEvents: 'configure' to let the plugin set it`, 'EXPIRED_EVENTS_CONFIG ' + this.#where)
      }
    }
    await this.#connection.subscribe(channel)
  }

  /** Connect again (and so re-arm): after a Sentinel failover the master is another server. */
  reconnect (warnings: Warnings): void {
    if (this.#closed) return
    warnings.warn('EXPIRED_EVENTS', `fastify-redis-hash-session: the connection to ${this.#where} was re-established (a failover?); the expired-events subscriber reconnects to follow the master, and expiries meanwhile may be missed`, 'EXPIRED_EVENTS ' + this.#where)
    this.#connection.disconnect(true)
  }

  close (): void {
    this.#closed = true
    this.#connection.disconnect()
  }
}

export interface ExpiredEvents {
  close: () => void
}

/**
 * Subscribe to the expired-key events of every master behind `redis` (a Redis, a Sentinel-managed
 * Redis or a Cluster); `onKey` gets each expired key's name as the server holds it.
 */
export function watchExpiredKeys (redis: unknown, mode: ExpiredEventsMode, onKey: (key: string) => void, warnings: Warnings): ExpiredEvents {
  if ((redis as Partial<ClusterLike>).isCluster === true) return watchCluster(redis as ClusterLike, mode, onKey, warnings)
  const client = redis as Node
  const subscriber = new Subscriber(client, mode, onKey, warnings)
  // The subscriber reconnects by itself when its own connection drops (a restart). Behind Sentinel a
  // failover may leave it connected to the demoted master, which keeps its subscribers but no longer
  // expires keys: the application's client connecting again is then the cue to follow the master.
  const sentinels = client.options.sentinels
  if (!Array.isArray(sentinels) || sentinels.length === 0) return { close () { subscriber.close() } }
  let wasReady = client.status === 'ready'
  const onReady = (): void => {
    if (wasReady) subscriber.reconnect(warnings)
    wasReady = true
  }
  client.on('ready', onReady)
  return {
    close () {
      ;(client as unknown as ClusterLike).off('ready', onReady)
      subscriber.close()
    }
  }
}

/**
 * One subscriber per master, reconciled whenever the cluster has read its slots afresh ('refresh',
 * 'ready'): only then does its node list name the masters (before, it holds the startup nodes, which
 * may be replicas or aliases). A node the cluster merely dropped ('-node': ioredis's own connection
 * to it closed) keeps its subscriber, which reconnects by itself.
 */
function watchCluster (cluster: ClusterLike, mode: ExpiredEventsMode, onKey: (key: string) => void, warnings: Warnings): ExpiredEvents {
  const subscribers = new Map<string, Subscriber>()
  const reconcile = (): void => {
    const masters = new Map(cluster.nodes('master').map((node) => [`${node.options.host ?? ''}:${node.options.port ?? ''}`, node]))
    for (const [address, node] of masters) {
      if (!subscribers.has(address)) subscribers.set(address, new Subscriber(node, mode, onKey, warnings))
    }
    for (const [address, subscriber] of subscribers) {
      if (!masters.has(address)) {
        subscriber.close()
        subscribers.delete(address)
      }
    }
  }
  const events = ['refresh', 'ready']
  for (const event of events) cluster.on(event, reconcile)
  if (cluster.status === 'ready') reconcile()
  return {
    close () {
      for (const event of events) cluster.off(event, reconcile)
      for (const subscriber of subscribers.values()) subscriber.close()
      subscribers.clear()
    }
  }
}
