/**
 * Every suite, registered in one registry. A new benchmark (the 1,000-peer scale test, the network
 * simulation, the Go MConnection comparison) adds a `register…Suite` here.
 *
 * @module
 */
import { Registry } from '../harness/case.js'
import { registerTransportSuite } from './transport.js'
import { registerGoSuite } from './go.js'
import { registerScaleSuite } from './scale.js'
import { registerSimSuite } from '../sim/suite.js'

/** The full registry. */
export function buildRegistry (): Registry {
  const reg = new Registry()
  registerTransportSuite(reg)
  registerGoSuite(reg)
  registerScaleSuite(reg)
  registerSimSuite(reg)
  return reg
}
