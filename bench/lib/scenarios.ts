// The scenarios, and the routes every contender serves for them.
export const LOAD_SCENARIOS = ['read', 'write', 'lazy', 'login'] as const
export type Scenario = typeof LOAD_SCENARIOS[number] | 'public'

export const CONTENDERS = ['plugin', 'plugin-touch', 'plugin-autopipe', 'fastify-session', 'mgcrea', 'floor', 'floor-lua', 'floor-hgetall'] as const

/** Contenders without a lazy route (they load in every request anyway): the lazy scenario skips them. */
const NO_LAZY_ROUTE: ReadonlySet<string> = new Set(['fastify-session', 'mgcrea', 'floor'])

/** Whether a contender serves a scenario's route (an --extra contender is taken to serve them all). */
/** Contenders that only bound the read: they serve logins (to make their sessions) and reads. */
const READ_ONLY: ReadonlySet<string> = new Set(['floor-hgetall'])

export function serves (contender: string, scenario: Scenario): boolean {
  if (READ_ONLY.has(contender)) return scenario === 'read'
  return scenario !== 'lazy' || !NO_LAZY_ROUTE.has(contender)
}

/**
 * Routes: POST /login {username} → sets the cookie; GET /read → {username}; POST /increment → {counter};
 * POST /increment-lazy → {counter} without loading first (the plugin's `config.session: 'lazy'`);
 * GET /public (opts out where it can).
 */
export const ROUTE_OF: Record<Scenario, { method: string, path: string }> = {
  read: { method: 'GET', path: '/read' },
  write: { method: 'POST', path: '/increment' },
  lazy: { method: 'POST', path: '/increment-lazy' },
  login: { method: 'POST', path: '/login' },
  public: { method: 'GET', path: '/public' }
}
