import { expect } from 'chai'
import fc from 'fast-check'
import { DecodeError } from '../../lib/errors.js'
import { corpus, goldenOf, onlyTyped, propertyOf, replay, targets, UntypedErrorEscaped } from './properties.js'

// Runs per target in the default suite: the slow ones (a handshake or files per run) get fewer.
const RUNS: Record<string, number> = { 'mconnection-inbound': 150, 'secret-connection': 60, 'addrbook-file': 60, 'read-delimited': 200 }

describe('fuzz: decoders throw nothing but typed errors', function () {
  this.timeout(60_000)

  it('has a corpus seeded from the golden frames', () => {
    expect(corpus.length).to.be.at.least(20)
  })

  for (const target of targets) {
    it(`${target.name}: random and mutated inputs, cut into chunks`, async () => {
      // A fresh seed every run; fast-check prints it with the counterexample when a run fails.
      await fc.assert(propertyOf(target), { numRuns: RUNS[target.name] ?? 400 })
    })
  }

  it('the harness flags untyped errors and passes typed ones; golden inputs replay cleanly', async () => {
    expect(() => { onlyTyped('bogus', () => { throw new TypeError('x is undefined') }) }).to.throw(UntypedErrorEscaped)
    expect(() => { onlyTyped('bogus', () => { throw new RangeError('offset out of bounds') }) }).to.throw(UntypedErrorEscaped)
    expect(() => { onlyTyped('typed', () => { throw new DecodeError('bad varint') }) }).to.not.throw()
    for (const target of targets) {
      for (const golden of goldenOf(target)) await replay(target.name, golden.map((c) => Buffer.from(c).toString('hex')))
    }
  })
})
