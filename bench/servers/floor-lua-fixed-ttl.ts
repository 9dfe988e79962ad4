// An --extra contender, not run by default: floor-lua as it was before it slid each session by its own
// session_ttl, with one TTL for every session (less Redis work than the plugin does). For comparison:
//   npm run bench -- --extra floor-lua-fixed-ttl=dist/bench/servers/floor-lua-fixed-ttl.js
import { startFloorLua } from '../lib/floor-lua-app'

startFloorLua({ fixedTtl: true }).catch((err) => {
  console.error(err)
  process.exit(1)
})
