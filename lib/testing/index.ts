/**
 * `rx-p2p/testing`: helpers for testing code built on rx-p2p without sockets: in-memory connections and
 * networks in virtual time, marble helpers for reactors, and the compliance suites an implementation of an
 * interface runs (they take the runner's `describe`/`it`, and load no test framework themselves).
 *
 * @module rx-p2p/testing
 */
export { memoryPair, MemoryNetwork, type MemoryPairInit, type MemoryNetworkInit } from '../transport/memory.js'
export {
  runReactor, fakePeer, FakePeer, fakeNodeId, fakeNodeInfo, envelope, peerAdded, peerRemoved,
  type RunReactorInit, type FakePeerInit
} from './reactor.js'
export { TestNetwork, type TestNetworkInit } from './network.js'
export {
  Simulation, SimulationScheduler, seededRandom,
  type SimulationInit, type SimulationNode, type SimulationTraceEvent, type SimulationStats, type ConvergenceCurve, type ChaosStats
} from './simulation.js'
export {
  SimulationInvariantError, ATTACK_KINDS, CHAOS_FLAGS, GOSSIP_CHANNEL, chaosFlags, resolveChaos, poisonReactor, silentReactor, gossipReactor, randomNodeId,
  type ChaosInit, type ResolvedChaos, type AttackKind, type SimulationInvariant
} from './chaos.js'
export {
  duplexCompliance,
  type DuplexPairFixture, type DuplexComplianceInit, type ComplianceTestApi, type ComplianceTestFn
} from './compliance.js'
export {
  FaultyConnection, faultyTransport,
  type FaultPlan, type FaultStep, type FaultyConnectionInit, type FaultCounts, type FaultyConnectionContext
} from './faulty-connection.js'
