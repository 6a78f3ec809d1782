// Written by `npm run fuzz` on 2026-11-25T04:28:38.650Z: target node-info-roundtrip, seed 6563892, path 2:0:0:0:0:0:0:19:17:17:17:17:17.
// It fails until the bug is fixed, then stays as a regression test.
import { replay } from '../properties.js'

describe('fuzz regression: node-info-roundtrip (seed 6563892)', () => {
  it('Error: invariant broken: NodeInfo round trip: got {"protocolVersion":{"p2p":0,"block":0,"app":0},"id":"","listenAddr":"","network":"","version":"","channels":{"', async () => {
    await replay('node-info-roundtrip', ['7b2276616c6964223a66616c73652c22696e666f223a7b2270726f746f636f6c56657273696f6e223a7b22703270223a302c22626c6f636b223a302c22617070223a307d2c226964223a22222c226c697374656e41646472223a22222c226e6574776f726b223a22efbbbf222c2276657273696f6e223a22222c226368616e6e656c73223a7b2224686578223a22227d2c226d6f6e696b6572223a22222c226f74686572223a7b227478496e646578223a22222c2272706341646472657373223a22227d7d7d'])
  })
})
