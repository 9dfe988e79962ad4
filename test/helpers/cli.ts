// The inspection CLI as a user runs it: package.json's "bin", built in dist/, as a child process with
// only PATH and the given variables in its environment.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(__dirname, '..', '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
export const BIN = join(root, pkg.bin['fastify-redis-hash-session'])

export interface CliRun { code: number | null, stdout: string, stderr: string }

export function cli (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  if (!existsSync(BIN)) return Promise.reject(new Error(`${BIN} is missing: run \`npm run build\` (npm test does it first)`))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 60_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
