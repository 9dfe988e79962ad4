// The scenarios, and the routes every contender serves for them.
export const LOAD_SCENARIOS = ['read', 'write', 'login'] as const
export type Scenario = typeof LOAD_SCENARIOS[number] | 'public'

export const CONTENDERS = ['plugin', 'plugin-autopipe', 'fastify-session', 'mgcrea', 'floor'] as const

/** Routes: POST /login {username} → sets the cookie; GET /read → {username}; POST /increment → {counter}; GET /public (opts out where it can). */
export const ROUTE_OF: Record<Scenario, { method: string, path: string }> = {
  read: { method: 'GET', path: '/read' },
  write: { method: 'POST', path: '/increment' },
  login: { method: 'POST', path: '/login' },
  public: { method: 'GET', path: '/public' }
}
