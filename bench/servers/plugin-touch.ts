// Contender "plugin-touch": the plugin with touchAfter: 60, so a read within a minute of the
// session's last touch writes nothing to Redis (no HSET of last_accessed_at, no EXPIRE).
import { startPluginServer } from '../lib/plugin-app'

startPluginServer({}, { touchAfter: 60 }).catch((err) => {
  console.error(err)
  process.exit(1)
})
