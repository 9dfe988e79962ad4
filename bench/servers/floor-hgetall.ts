// Contender "floor-hgetall" (reads only): a read is one plain HGETALL, no script and no write, the
// least Redis CPU a read of a session hash can cost: the bound for what touchAfter can save Redis.
import { startFloorLua } from '../lib/floor-lua-app'

startFloorLua({ plainRead: true }).catch((err) => {
  console.error(err)
  process.exit(1)
})
