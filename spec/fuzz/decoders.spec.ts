import { expect } from 'chai'
import fc from 'fast-check'
import { DecodeError } from '../../lib/errors.js'
import { corpus, onlyTyped, propertyOf, replay, targets, UntypedErrorEscaped } from './properties.js'

describe('fuzz: decoders throw nothing but typed errors', function () {
  this.timeout(60_000)

  it('has a corpus seeded from the golden frames', () => {
    expect(corpus.length).to.be.at.least(20)
  })

  for (const target of targets) {
    it(`${target.name}: random and mutated bytes, cut into chunks`, () => {
      // A fresh seed every run; fast-check prints it with the counterexample when a run fails.
      fc.assert(propertyOf(target), { numRuns: target.name === 'mconnection-inbound' ? 150 : 400 })
    })
  }

  it('the harness flags untyped errors and passes typed ones; golden frames replay cleanly', () => {
    expect(() => { onlyTyped('bogus', () => { throw new TypeError('x is undefined') }) }).to.throw(UntypedErrorEscaped)
    expect(() => { onlyTyped('bogus', () => { throw new RangeError('offset out of bounds') }) }).to.throw(UntypedErrorEscaped)
    expect(() => { onlyTyped('typed', () => { throw new DecodeError('bad varint') }) }).to.not.throw()
    for (const target of targets) {
      for (const golden of corpus) replay(target.name, [Buffer.from(golden).toString('hex')])
    }
  })
})
