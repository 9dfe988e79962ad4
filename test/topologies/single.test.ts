// The core behaviour suite (test/helpers/behaviour-suite.ts) on a single Redis.
// One file per topology, so tap runs them in parallel.
import { behaviourSuite } from '../helpers/behaviour-suite'

behaviourSuite('single')
