// Half handshakes at line rate from one IP: connect, send 35 bytes (a fixed ephemeral key), hang up. Each one
// that the node takes costs it an X25519 key pair, an X25519 agreement and an ed25519 signature; on main 1,950 a
// second used 112% of a core. Here the per-IP handshake bucket (10, then 2/s by default) refuses them at
// accept, before any of that, and the node-wide bucket bounds what many IPs together can make it compute. The
// refusal is made on the accepted handle through the listener's gate, before Node makes a socket of it, and the
// connection is reset. What is left is the price of a TCP connection accepted and reset (mostly the kernel's),
// paid at the attacker's connection rate: the bounds below are per connection and, at the rate one local
// attacker reaches, per core. The connections are counted where the node sees them (its refusals): a reset
// often reaches the attacker before its connect callback runs, so the attacker's own count is short.
// Long version: RX_P2P_ATTACK_LONG=1 (npm run attack -- --long), which also measures the node without the limit.
import { expect } from 'chai'
import { x25519KeyPair } from '../../lib/crypto/x25519.js'
import { attackSocket, honestTraffic, LONG, sampleStats, sleep, startTarget, type Target } from './support/harness.js'

const ATTACK_MS = LONG ? 20_000 : 3000
/**
 * The documented bounds (docs/LIMITS.md): CPU per refused half handshake, and the share of a core at line rate.
 * Measured 26-32 µs and 22-26% of a core at 6,100-6,700 a second on the shared 2-core machine (load 7): about
 * twice that, for the machine's load.
 */
const US_PER_ATTEMPT_BOUND = 70
const CPU_BOUND = 0.5

// A fixed ephemeral key, as the attack in issue 13 used: a length-prefixed BytesValue of 32 bytes (35 bytes).
const HALF = Buffer.from([0x22, 0x0a, 0x20, ...x25519KeyPair(new Uint8Array(32).fill(9)).publicKey])

/** `concurrency` loops from `ip`, each connecting, writing the ephemeral key and hanging up as fast as it can. */
function halfHandshakes (target: Target, ip: string, concurrency: number): { attempts: () => number, stop: () => Promise<void> } {
  let running = true
  let attempts = 0
  const loop = async (): Promise<void> => {
    while (running) {
      await new Promise<void>((resolve) => {
        const socket = attackSocket(target, ip)
        socket.on('error', () => { resolve() })
        socket.once('close', () => { resolve() })
        socket.once('connect', () => {
          attempts++
          socket.resume() // read (and drop) the node's key, so that its close reaches us
          socket.end(HALF)
        })
      })
    }
  }
  const loops = Array.from({ length: concurrency }, loop)
  return { attempts: () => attempts, stop: async () => { running = false; await Promise.all(loops) } }
}

async function attack (switchInit: Record<string, unknown>): Promise<{ cpuShare: number, idleShare: number, attempts: number, connects: number, rejected: Record<string, number>, joinedMs: number }> {
  const target = await startTarget({ switchInit })
  try {
    const honest = await honestTraffic(target, { peers: 2 })
    // what the honest traffic alone costs, to tell the attack's share apart
    const idle = sampleStats(target, 200)
    await sleep(1000)
    const idleShare = (await idle.stop()).cpuShare
    const before = await target.stats()
    const sampler = sampleStats(target, 200)
    const attacker = halfHandshakes(target, '127.0.6.1', 8)
    await sleep(ATTACK_MS / 2)
    // a new honest peer from another IP connects in the middle of the attack
    const joinStart = Date.now()
    const newcomer = await honestTraffic(target, { peers: 1, sourceIps: ['127.0.6.200'] })
    const joinedMs = Date.now() - joinStart
    await sleep(ATTACK_MS / 2)
    const s = await sampler.stop()
    await attacker.stop()
    const after = await target.stats()
    await newcomer.stop()
    await honest.stop()
    honest.assertNoLoss()
    newcomer.assertNoLoss()
    const rejected: Record<string, number> = {}
    for (const [k, v] of Object.entries(after.rejected)) rejected[k] = v - (before.rejected[k] ?? 0)
    // every attacking connection the node accepted ends as a refusal: at accept, or its handshake cut short
    const attempts = Object.values(rejected).reduce((a, b) => a + b, 0)
    return { cpuShare: s.cpuShare, idleShare, attempts, connects: attacker.attempts(), rejected, joinedMs }
  } finally {
    await target.stop()
  }
}

describe('attack/half-handshake: half handshakes at line rate from one IP', function () {
  this.timeout(60_000)

  it(`cost the node under ${US_PER_ATTEMPT_BOUND} µs each and under ${CPU_BOUND * 100}% of a core; honest peers keep talking and a new one connects`, async () => {
    // duplicate IPs allowed: the attacker gets every connection it opens up to the handshake limits (the worst case)
    const r = await attack({ allowDuplicateIp: true })
    const seconds = ATTACK_MS / 1000
    const perAttemptUs = (r.cpuShare - r.idleShare) * ATTACK_MS * 1000 / r.attempts
    console.log(`      ${r.attempts} half handshakes in ${seconds} s (${Math.round(r.attempts / seconds)}/s; ${r.connects} seen connected by the attacker); refused ${JSON.stringify(r.rejected)}; ` +
      `target CPU ${(r.cpuShare * 100).toFixed(1)}% of a core (${(r.idleShare * 100).toFixed(1)}% before the attack), ${perAttemptUs.toFixed(0)} µs per half handshake; newcomer joined in ${r.joinedMs} ms`)
    expect(r.attempts / seconds).to.be.greaterThan(200) // the attacker really ran at a rate the node could not keep up with unlimited
    expect(r.rejected['handshake-rate'] ?? 0).to.be.greaterThan(r.attempts / 2)
    expect(perAttemptUs).to.be.below(US_PER_ATTEMPT_BOUND)
    expect(r.cpuShare).to.be.below(CPU_BOUND)
  })

  if (LONG) {
    it('for comparison: the same attack with the handshake limit lifted', async () => {
      const lifted = { allowDuplicateIp: true, maxPendingHandshakesPerIp: 1_000_000, maxPendingHandshakes: 1_000_000, handshakeRate: { burstPerIp: 1e9, ratePerIp: 1e9, burst: 1e9, rate: 1e9 } }
      const r = await attack(lifted)
      const seconds = ATTACK_MS / 1000
      const perAttemptUs = (r.cpuShare - r.idleShare) * ATTACK_MS * 1000 / r.attempts
      console.log(`      unlimited: ${r.attempts} half handshakes in ${seconds} s (${Math.round(r.attempts / seconds)}/s); target CPU ${(r.cpuShare * 100).toFixed(1)}% of a core, ${perAttemptUs.toFixed(0)} µs per half handshake`)
    })
  }
})
