// Contender "plugin-autopipe": the same app, on an ioredis client with enableAutoPipelining, which
// batches the commands of concurrent requests issued in the same tick into one write.
import { startPluginServer } from '../lib/plugin-app'

startPluginServer({ enableAutoPipelining: true }).catch((err) => {
  console.error(err)
  process.exit(1)
})
