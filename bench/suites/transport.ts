/**
 * The transport benchmark of issues 2 and 3: raw TCP, rx-p2p's MConnection (plain, rate-limited, over
 * SecretConnection) and the JavaScript multiplexers it competes with, between two processes over loopback,
 * plus handshake timings, and the targets they are held to.
 *
 * @module
 */
import type { CaseResult, Column, Registry, Results } from '../harness/case.js'
import { fmt, handshakeCase, pairCase } from '../harness/pair.js'

const KiB = 1024
const SIZES = [{ tag: '1k', size: KiB }, { tag: '64k', size: 64 * KiB }] as const
/** CometBFT's default send and receive rate, bytes per second. */
export const DEFAULT_RATE = 5_120_000

const num = (r: CaseResult, k: string): number | undefined => {
  const v = r.metrics[k]
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}
const pct = (x: number | undefined): string => x === undefined ? '–' : `${(x * 100).toFixed(0)}%`
const ratioTo = (r: CaseResult, results: Results, id: string | undefined): number | undefined => {
  if (id === undefined) return undefined
  const b = results.get(id)
  const x = num(r, 'mbps')
  const y = b === undefined ? undefined : num(b, 'mbps')
  return x === undefined || y === undefined ? undefined : x / y
}

const sizeLabel = (size: number | undefined): string => size === undefined ? '' : size >= KiB ? `${size / KiB} KiB` : `${size} B`

const throughputColumns: Column[] = [
  { header: 'case', align: 'left', cell: (r) => r.case.title },
  { header: 'id', align: 'left', cell: (r) => r.case.id },
  { header: 'msg', cell: (r) => sizeLabel(r.case.size) },
  { header: 'MB/s', cell: (r) => fmt(num(r, 'mbps')) },
  { header: '× raw TCP', cell: (r, res) => { const x = ratioTo(r, res, r.case.baseline ?? (r.case.id.startsWith('raw-tcp') ? r.case.id : undefined)); return x === undefined ? '–' : x.toFixed(2) } },
  { header: 'CPU send/recv', cell: (r) => `${pct(num(r, 'sendCpu'))}/${pct(num(r, 'recvCpu'))}` },
  { header: 'CPU ns/B send/recv', cell: (r) => `${num(r, 'sendNsPerByte')?.toFixed(2) ?? '–'}/${num(r, 'recvNsPerByte')?.toFixed(2) ?? '–'}` },
  { header: 'RTT p50 µs', cell: (r) => fmt(num(r, 'rttP50')) },
  { header: 'RTT p99 µs', cell: (r) => fmt(num(r, 'rttP99')) },
  { header: 'recv peak RSS MiB', cell: (r) => fmt(num(r, 'recvPeakRssMiB')) },
  { header: 'other load', cell: (r) => pct(num(r, 'foreign')) }
]

/** Adds the transport suite to `reg`. */
export function registerTransportSuite (reg: Registry): void {
  reg.addGroup({
    id: 'plain',
    title: 'Plain TCP: one connection, messages on one channel / stream',
    columns: throughputColumns,
    notes: [
      'MB/s = 10^6 payload bytes per second, median of the timed repetitions; × raw TCP = against raw TCP at the same size in this run.',
      'CPU = CPU time / wall time of each process during the timed transfers (100% = one core busy); ns/B = CPU time per payload byte (less sensitive to other load than MB/s).',
      'other load = share of the machine\'s CPUs used by other processes during the timed transfers (median); the machine is shared with other engineers\' test runs.'
    ]
  })
  reg.addGroup({
    id: 'rate',
    title: 'Rate limiting: MConnection with the default 5,120,000 B/s send and receive limits',
    columns: [
      { header: 'case', align: 'left', cell: (r) => r.case.title },
      { header: 'id', align: 'left', cell: (r) => r.case.id },
      { header: 'msg', cell: (r) => sizeLabel(r.case.size) },
      { header: 'limit MB/s', cell: () => (DEFAULT_RATE / 1e6).toFixed(2) },
      { header: 'achieved MB/s', cell: (r) => num(r, 'mbps')?.toFixed(3) ?? '–' },
      { header: 'deviation', cell: (r) => { const x = num(r, 'mbps'); return x === undefined ? '–' : `${((x * 1e6 / DEFAULT_RATE - 1) * 100).toFixed(2)}%` } },
      { header: 'reps min…max MB/s', cell: (r) => { const xs = r.metrics.mbpsReps; return Array.isArray(xs) && xs.length > 0 ? `${Math.min(...xs).toFixed(3)}…${Math.max(...xs).toFixed(3)}` : '–' } },
      { header: 'RTT p50 µs', cell: (r) => fmt(num(r, 'rttP50')) },
      { header: 'recv peak RSS MiB', cell: (r) => fmt(num(r, 'recvPeakRssMiB')) }
    ],
    notes: ['Achieved = payload bytes per second at the receiver; the limiter also counts packet framing (about 1% at 1,024-byte packets).']
  })
  reg.addGroup({ id: 'encrypted', title: 'Encrypted: one authenticated, encrypted connection, messages on one channel / stream', columns: throughputColumns })
  reg.addGroup({
    id: 'handshake',
    title: 'Handshake time on loopback (sequential handshakes, fresh TCP connection each, timed at the dialer from TCP connect)',
    columns: [
      { header: 'case', align: 'left', cell: (r) => r.case.title },
      { header: 'id', align: 'left', cell: (r) => r.case.id },
      { header: 'p50 µs', cell: (r) => fmt(num(r, 'hsP50')) },
      { header: 'p99 µs', cell: (r) => fmt(num(r, 'hsP99')) },
      { header: 'handshakes', cell: (r) => String(num(r, 'hsCount') ?? '–') }
    ]
  })

  for (const { tag, size } of SIZES) {
    const raw = `raw-tcp-${tag}`
    reg.add(
      pairCase({ id: raw, group: 'plain', title: 'raw net.Socket (write per chunk)', size, stack: 'raw-tcp', description: 'one socket.write() per chunk, drain on false, Nagle off' }),
      pairCase({ id: `protomux-${tag}`, group: 'plain', title: 'protomux over framed-stream', size, stack: 'protomux', baseline: raw }),
      pairCase({ id: `mplex-${tag}`, group: 'plain', title: '@libp2p/mplex', size, stack: 'libp2p', params: { muxer: 'mplex' }, baseline: raw }),
      pairCase({ id: `yamux-${tag}`, group: 'plain', title: '@chainsafe/libp2p-yamux', size, stack: 'libp2p', params: { muxer: 'yamux' }, baseline: raw }),
      pairCase({ id: `mconn-${tag}`, group: 'plain', title: 'rx-p2p MConnection', size, stack: 'rx', params: {}, baseline: raw, description: 'flushThrottleMs 0, sendRate/recvRate 0, sendQueueCapacity 100' })
    )
  }
  reg.add(pairCase({
    id: 'mconn-64k-pkt64k',
    group: 'plain',
    title: 'rx-p2p MConnection, 64 KiB packets (diagnostic)',
    size: 64 * KiB,
    stack: 'rx',
    params: { maxPacketMsgPayloadSize: 65536 },
    baseline: 'raw-tcp-64k',
    description: 'maxPacketMsgPayloadSize 65536 on both ends (not CometBFT-compatible unless configured so): shows the per-packet share of the 64 KiB cost'
  }))
  reg.add(pairCase({
    id: 'mconn-64k-semi1',
    group: 'plain',
    title: 'rx-p2p MConnection, node --max-semi-space-size=1 (diagnostic)',
    size: 64 * KiB,
    stack: 'rx',
    params: {},
    nodeArgs: ['--max-semi-space-size=1'],
    baseline: 'raw-tcp-64k',
    description: 'V8 young generation capped at 1 MiB per semi-space on both ends: shows how much of the 64 KiB cost is GC and cache traffic from buffer churn'
  }))
  reg.add(pairCase({
    id: 'mconn-rate-64k',
    group: 'rate',
    title: 'rx-p2p MConnection, default limits',
    size: 64 * KiB,
    stack: 'rx',
    params: { rateLimited: true },
    repSeconds: 2,
    warmupBytes: 4 * 1024 * 1024,
    warmupSeconds: 0
  }))
  for (const { tag, size } of SIZES) {
    const raw = `raw-tcp-${tag}`
    reg.add(
      pairCase({ id: `noise-yamux-${tag}`, group: 'encrypted', title: '@chainsafe/libp2p-noise + yamux', size, stack: 'libp2p', params: { muxer: 'yamux', encrypt: true }, baseline: raw }),
      pairCase({ id: `secretstream-protomux-${tag}`, group: 'encrypted', title: 'protomux over @hyperswarm/secret-stream', size, stack: 'protomux', params: { encrypt: true }, baseline: raw }),
      pairCase({ id: `mconn-secret-${tag}`, group: 'encrypted', title: 'rx-p2p MConnection over SecretConnection', size, stack: 'rx', params: { encrypt: true }, baseline: raw })
    )
  }
  reg.add(
    handshakeCase({ id: 'hs-rx-upgrade', group: 'handshake', title: 'rx-p2p upgradeConnection (secret handshake + NodeInfo exchange)', stack: 'rx', params: { handshake: 'upgrade' } }),
    handshakeCase({ id: 'hs-rx-secret', group: 'handshake', title: 'rx-p2p makeSecretConnection only', stack: 'rx', params: { handshake: 'secret' } }),
    handshakeCase({ id: 'hs-noise', group: 'handshake', title: '@chainsafe/libp2p-noise (XX)', stack: 'libp2p' }),
    handshakeCase({ id: 'hs-secretstream', group: 'handshake', title: '@hyperswarm/secret-stream (Noise XX)', stack: 'protomux' })
  )

  // ---- targets (ratios within the same run) ----
  const mbps = (res: Results, id: string): number | undefined => { const r = res.get(id); return r === undefined ? undefined : num(r, 'mbps') }
  const metric = (res: Results, id: string, k: string): number | undefined => { const r = res.get(id); return r === undefined ? undefined : num(r, k) }
  const atLeast = (id: string, description: string, ours: string, others: string[], factor: number): void => {
    reg.addTarget({
      id,
      description,
      check: (res) => {
        const a = mbps(res, ours)
        const bs = others.map((o) => [o, mbps(res, o)] as const).filter((x): x is readonly [string, number] => x[1] !== undefined)
        if (a === undefined || bs.length === 0) return undefined
        const [bid, b] = bs.reduce((m, x) => x[1] > m[1] ? x : m)
        return { pass: a >= factor * b, detail: `${ours} ${fmt(a)} MB/s = ${(a / b).toFixed(2)}× ${bid} ${fmt(b)} MB/s (need ≥ ${factor}×)` }
      }
    })
  }
  atLeast('1k-vs-raw', '1 KiB messages ≥ 1.5× raw TCP writing 1 KiB chunks', 'mconn-1k', ['raw-tcp-1k'], 1.5)
  atLeast('1k-vs-mux', '1 KiB messages ≥ 2× the fastest plain multiplexer', 'mconn-1k', ['protomux-1k', 'mplex-1k', 'yamux-1k'], 2)
  atLeast('64k-vs-raw', '64 KiB messages ≥ 0.8× raw TCP', 'mconn-64k', ['raw-tcp-64k'], 0.8)
  for (const { tag } of SIZES) {
    reg.addTarget({
      id: `rtt-${tag}`,
      description: `64-byte RTT p50 within 15 µs of raw TCP (after the ${tag === '1k' ? '1 KiB' : '64 KiB'} case)`,
      check: (res) => {
        const a = metric(res, `mconn-${tag}`, 'rttP50')
        const b = metric(res, `raw-tcp-${tag}`, 'rttP50')
        if (a === undefined || b === undefined) return undefined
        return { pass: a - b <= 15, detail: `mconn-${tag} ${fmt(a)} µs vs raw ${fmt(b)} µs (+${fmt(a - b)} µs)` }
      }
    })
    reg.addTarget({
      id: `rss-${tag}`,
      description: `receiver peak RSS within 15 MiB of the raw-TCP receiver (${tag === '1k' ? '1 KiB' : '64 KiB'})`,
      check: (res) => {
        const a = metric(res, `mconn-${tag}`, 'recvPeakRssMiB')
        const b = metric(res, `raw-tcp-${tag}`, 'recvPeakRssMiB')
        if (a === undefined || b === undefined) return undefined
        return { pass: a - b <= 15, detail: `mconn-${tag} ${fmt(a)} MiB vs raw ${fmt(b)} MiB (+${fmt(a - b)} MiB)` }
      }
    })
  }
  reg.addTarget({
    id: 'rate-limit',
    description: 'default rate limit held within 5% (5.12 MB/s)',
    check: (res) => {
      const a = mbps(res, 'mconn-rate-64k')
      if (a === undefined) return undefined
      const dev = a * 1e6 / DEFAULT_RATE - 1
      return { pass: Math.abs(dev) <= 0.05, detail: `${a.toFixed(3)} MB/s (${(dev * 100).toFixed(2)}%)` }
    }
  })
  for (const { tag } of SIZES) {
    atLeast(`enc-noise-${tag}`, `encrypted ${tag === '1k' ? '1 KiB' : '64 KiB'} ≥ 2× Noise + yamux`, `mconn-secret-${tag}`, [`noise-yamux-${tag}`], 2)
    atLeast(`enc-ss-${tag}`, `encrypted ${tag === '1k' ? '1 KiB' : '64 KiB'} ≥ 1.2× secret-stream + protomux`, `mconn-secret-${tag}`, [`secretstream-protomux-${tag}`], 1.2)
  }
}
