// The ES-module entry (package.json "exports" → "import"): the CommonJS build's one instance, re-exported,
// so `import redisSession from 'fastify-redis-hash-session'` is the plugin in ES-module TypeScript too, which
// would otherwise see a CommonJS module's default import as its whole `module.exports`. No second copy of anything.
import { redisSession } from './index.js'

export default redisSession
export * from './index.js'
