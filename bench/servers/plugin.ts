// Contender "plugin": fastify-redis-hash-session with a default ioredis client.
import { startPluginServer } from '../lib/plugin-app'

startPluginServer().catch((err) => {
  console.error(err)
  process.exit(1)
})
