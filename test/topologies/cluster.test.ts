// The core behaviour suite (test/helpers/behaviour-suite.ts) on a three-master Redis Cluster.
// One file per topology, so tap runs them in parallel.
import { behaviourSuite } from '../helpers/behaviour-suite'

behaviourSuite('cluster')
