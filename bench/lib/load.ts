// The load generator: autocannon, programmatic, in the runner's process. Requests that need a
// session take the next cookie from the pool (one shared rotation across all connections), so
// concurrent requests hit different sessions, as real traffic does.
import { ROUTE_OF, type Scenario } from './scenarios'

// autocannon ships no types; this is the part of its API the bench uses.
interface AutocannonRequest {
  method: string
  path: string
  headers?: Record<string, string>
  body?: string
  setupRequest?: (request: { headers: Record<string, string> }) => unknown
}
interface AutocannonResult {
  duration: number
  errors: number
  timeouts: number
  non2xx: number
  mismatches: number
  resets: number
  '2xx': number
  requests: { average: number, total: number }
  latency: { p50: number, p99: number, average: number, max: number }
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult> & { stop?: () => void }
const autocannon = require('autocannon') as Autocannon

export interface LoadResult {
  /** Responses per second over the run (2xx or not; errors are reported on their own). */
  rps: number
  /** Responses received. */
  responses: number
  p50: number
  p99: number
  /** Non-2xx responses, socket errors and timeouts. */
  errors: number
  seconds: number
}

export const LOGIN_USERNAME = 'user-999999'

function requestFor (scenario: Scenario, cookies: string[]): AutocannonRequest {
  if (scenario === 'login') {
    return {
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: LOGIN_USERNAME })
    }
  }
  if (cookies.length === 0) throw new Error(`the ${scenario} scenario needs sessions`)
  let next = 0
  return {
    ...ROUTE_OF[scenario],
    setupRequest (request) {
      request.headers.cookie = cookies[next]
      next = next + 1 === cookies.length ? 0 : next + 1
      return request
    }
  }
}

export async function load (port: number, scenario: Scenario, cookies: string[], seconds: number, connections: number): Promise<LoadResult> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    pipelining: 1,
    duration: seconds,
    // autocannon stops on a sampling tick: sample every 100 ms so a run lasts what was asked.
    sampleInt: 100,
    timeout: 10,
    requests: [requestFor(scenario, cookies)]
  })
  const responses = result['2xx'] + result.non2xx
  return {
    rps: responses / result.duration,
    responses,
    p50: result.latency.p50,
    p99: result.latency.p99,
    // autocannon's errors include its timeouts.
    errors: result.non2xx + result.errors,
    seconds: result.duration
  }
}
