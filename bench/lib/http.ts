// A small HTTP client for the runner's setup and probes (not the load: that is autocannon).
import { Agent, request as httpRequest } from 'node:http'

export interface Reply {
  status: number
  body: string
  setCookie: string[]
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 })

export function request (port: number, method: string, path: string, options: { cookie?: string, json?: unknown } = {}): Promise<Reply> {
  const payload = options.json === undefined ? undefined : JSON.stringify(options.json)
  const headers: Record<string, string> = {}
  if (options.cookie !== undefined) headers.cookie = options.cookie
  if (payload !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(Buffer.byteLength(payload))
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        body: Buffer.concat(chunks).toString('utf8'),
        setCookie: res.headers['set-cookie'] ?? []
      }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)))
    req.on('error', reject)
    req.end(payload)
  })
}

/** The `name=value` pair of a Set-Cookie header for `name`, as the browser would send it back. */
export function cookiePair (setCookie: string[], name: string): string | undefined {
  for (const header of setCookie) {
    const pair = header.split(';', 1)[0]
    if (pair.startsWith(name + '=') && pair.length > name.length + 1) return pair
  }
  return undefined
}

export function closeAgent (): void {
  agent.destroy()
}
