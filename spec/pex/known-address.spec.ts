import { expect } from 'chai'
import { KnownAddress, ZERO_TIME, durationFromMs, timeFromMs, timeToMs } from '../../lib/pex/known-address.js'
import { BUCKET_TYPE_NEW, BUCKET_TYPE_OLD } from '../../lib/pex/params.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { T0, addrIn, srcIn } from './support.js'

const MIN = 60_000
const DAY = 24 * 60 * MIN
const at = (ms: number): bigint => timeFromMs(T0 + ms)

function known (init: { lastAttempt?: number, lastSuccess?: number, attempts?: number, old?: boolean }): KnownAddress {
  return new KnownAddress(addrIn(1, 2, 3), srcIn(4, 5), [0], init.attempts ?? 0, init.old === true ? BUCKET_TYPE_OLD : BUCKET_TYPE_NEW,
    init.lastAttempt === undefined ? ZERO_TIME : at(init.lastAttempt),
    init.lastSuccess === undefined ? ZERO_TIME : at(init.lastSuccess))
}

describe('pex/known-address', () => {
  describe('times', () => {
    it('converts milliseconds to nanoseconds and back, keeping sub-millisecond fractions', () => {
      expect(timeFromMs(1)).to.equal(1_000_000n)
      expect(timeFromMs(1.5)).to.equal(1_500_000n)
      expect(timeFromMs(-1.25)).to.equal(-1_250_000n)
      expect(timeToMs(timeFromMs(T0 + 0.5))).to.equal(T0 + 0.5)
      expect(durationFromMs(DAY)).to.equal(86_400_000_000_000n)
    })

    it('the zero time is Go\'s 0001-01-01 and sorts before every real time', () => {
      expect(new Date(timeToMs(ZERO_TIME)).toISOString()).to.equal('0001-01-01T00:00:00.000Z')
      expect(ZERO_TIME < timeFromMs(0)).to.equal(true)
    })
  })

  describe('isBad (CometBFT rules, new addresses only)', () => {
    const now = at(30 * DAY)

    it('an old address is never bad', () => {
      expect(known({ old: true, lastAttempt: 0, attempts: 50 }).isBad(now)).to.equal(false)
    })

    it('an address attempted within the last minute is not bad, whatever else holds', () => {
      expect(known({ lastAttempt: 30 * DAY - MIN + 1, attempts: 50 }).isBad(now)).to.equal(false)
      expect(known({ lastAttempt: 30 * DAY - MIN - 1, attempts: 50 }).isBad(now)).to.equal(true)
    })

    it('an address not attempted for more than 7 days is bad', () => {
      expect(known({ lastAttempt: 30 * DAY - 7 * DAY - 1 }).isBad(now)).to.equal(true)
      expect(known({ lastAttempt: 30 * DAY - 7 * DAY }).isBad(now)).to.equal(false)
    })

    it('3 attempts and never a success is bad; 2 is not', () => {
      expect(known({ lastAttempt: 30 * DAY - 2 * MIN, attempts: 3 }).isBad(now)).to.equal(true)
      expect(known({ lastAttempt: 30 * DAY - 2 * MIN, attempts: 2 }).isBad(now)).to.equal(false)
    })

    it('10 attempts and no success for 7 days is bad; a recent success or 9 attempts is not', () => {
      const base = { lastAttempt: 30 * DAY - 2 * MIN }
      expect(known({ ...base, attempts: 10, lastSuccess: 30 * DAY - 8 * DAY }).isBad(now)).to.equal(true)
      expect(known({ ...base, attempts: 10, lastSuccess: 30 * DAY - 6 * DAY }).isBad(now)).to.equal(false)
      expect(known({ ...base, attempts: 9, lastSuccess: 30 * DAY - 8 * DAY }).isBad(now)).to.equal(false)
    })
  })

  describe('marks and bans', () => {
    it('markAttempt counts and stamps; markGood resets attempts and stamps both times', () => {
      const ka = known({})
      ka.markAttempt(at(1))
      ka.markAttempt(at(2))
      expect([ka.attempts, ka.lastAttempt, ka.lastSuccess]).to.deep.equal([2, at(2), ZERO_TIME])
      ka.markGood(at(3))
      expect([ka.attempts, ka.lastAttempt, ka.lastSuccess]).to.deep.equal([0, at(3), at(3)])
    })

    it('a ban lasts until now + duration and never shortens', () => {
      const ka = known({})
      ka.ban(at(0), durationFromMs(DAY))
      expect(ka.lastBanTime).to.equal(at(DAY))
      ka.ban(at(1000), durationFromMs(MIN))
      expect(ka.lastBanTime).to.equal(at(DAY))
      expect(ka.isBanned(at(DAY - 1))).to.equal(true)
      expect(ka.isBanned(at(DAY))).to.equal(false)
    })

    it('keeps bucket references without duplicates', () => {
      const ka = new KnownAddress(new NetAddress('', '1.2.3.4', 1), srcIn(1, 1))
      expect([ka.addBucketRef(5), ka.addBucketRef(7), ka.addBucketRef(5)]).to.deep.equal([1, 2, -1])
      expect([ka.removeBucketRef(9), ka.removeBucketRef(5), ka.removeBucketRef(7)]).to.deep.equal([-1, 1, 0])
    })
  })
})
