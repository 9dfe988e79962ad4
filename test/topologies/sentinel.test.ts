// The core behaviour suite (test/helpers/behaviour-suite.ts) on Redis Sentinel (master, replica, sentinel).
// One file per topology, so tap runs them in parallel.
import { behaviourSuite } from '../helpers/behaviour-suite'

behaviourSuite('sentinel')
