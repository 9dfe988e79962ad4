// Contender "floor-lua": the plugin's exact Redis work, one script call per request, no library (see lib/floor-lua-app.ts).
import { startFloorLua } from '../lib/floor-lua-app'

startFloorLua().catch((err) => {
  console.error(err)
  process.exit(1)
})
