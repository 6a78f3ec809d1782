/**
 * The node under attack, in a process of its own so that its RSS, heap and CPU are its alone. Started by
 * `startTarget` in harness.ts with one JSON argument ({@link TargetConfig}); talks to the test over IPC:
 * it sends `{ op: 'ready', port, id }`, then answers `{ op: 'stats' | 'book' | 'dial' | 'gc' | 'stop', seq }`
 * with `{ seq, ... }`.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { NodeKey } from '../../../lib/crypto/node-key.js'
import { AddrBook } from '../../../lib/pex/addr-book.js'
import { pexReactor } from '../../../lib/pex/pex-reactor.js'
import { actions } from '../../../lib/switch/actions.js'
import type { PeerEvent } from '../../../lib/switch/events.js'
import { mapToActions } from '../../../lib/switch/map-to-actions.js'
import type { Reactor } from '../../../lib/switch/reactor.js'
import { Switch, type SwitchInit } from '../../../lib/switch/switch.js'
import { ECHO_CHANNEL, BULK_CHANNEL, NETWORK, echoReply, type SendManyRequest, type TargetConfig, type TargetStats } from './protocol.js'

const config = JSON.parse(process.argv[2] ?? '{}') as TargetConfig
const send = (msg: unknown): void => { process.send?.(msg) }

const bulkCounts = { messages: 0, bytes: 0 }
const echo: Reactor = {
  name: 'echo',
  channels: [{ id: ECHO_CHANNEL, priority: 5, sendQueueCapacity: config.echoQueueCapacity ?? 10 }],
  // Every request is answered with actions.send (the waiting kind), as a request/response reactor does.
  run: (ctx) => ctx.envelopes$.pipe(mapToActions((env) => actions.send(env.from, ECHO_CHANNEL, echoReply(env.message, config.echoReplyBytes))))
}
const bulk: Reactor = {
  name: 'bulk',
  // The default receive capacity (21 MiB): the channel a reassembly attack aims at.
  channels: [{ id: BULK_CHANNEL, priority: 1 }],
  run: (ctx) => ctx.envelopes$.pipe(mapToActions((env) => {
    bulkCounts.messages++
    bulkCounts.bytes += env.message.byteLength
    return undefined
  }))
}

const reactors: Reactor[] = [echo, bulk]
let book: AddrBook | undefined
if (config.pex === true) {
  if (config.addrBookFile !== undefined) mkdirSync(dirname(config.addrBookFile), { recursive: true })
  book = new AddrBook({ ...config.bookLimits, filePath: config.addrBookFile, addrBookStrict: config.addrBookStrict ?? false })
  reactors.push(pexReactor({ book, ...(config.pexInit ?? {}) }))
}

const sw = new Switch({
  nodeKey: NodeKey.generate(),
  moniker: 'target',
  network: NETWORK,
  listenAddress: `${config.host ?? '127.0.0.1'}:0`,
  dialRandomizerMs: 0,
  stopFlushTimeoutMs: 200,
  ...(config.switchInit as Partial<SwitchInit> | undefined),
  reactors
})

const events: Record<string, number> = {}
const rejected: Record<string, number> = {}
const removedBy: Record<string, number> = {}
sw.peerEvents$.subscribe((e: PeerEvent) => {
  events[e.type] = (events[e.type] ?? 0) + 1
  if (e.type === 'removed') {
    const key = e.reason?.name ?? 'none'
    removedBy[key] = (removedBy[key] ?? 0) + 1
  }
  if (e.type === 'rejected') {
    const err = e.error as Error & { reason?: string }
    const key = err.reason ?? err.name
    rejected[key] = (rejected[key] ?? 0) + 1
  }
})

const cpuStart = process.cpuUsage()
function stats (): TargetStats {
  const m = process.memoryUsage()
  const cpu = process.cpuUsage(cpuStart)
  const counts = sw.numPeers()
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    cpuUs: cpu.user + cpu.system,
    peers: sw.peers.size,
    inbound: counts.inbound,
    outbound: counts.outbound,
    events: { ...events },
    rejected: { ...rejected },
    removedBy: { ...removedBy },
    recvBudgetUsed: sw.recvBudget.used,
    bulk: { ...bulkCounts },
    bookSize: book?.size
  }
}

/**
 * `count` messages of `size` bytes (each its own buffer), none awaited: `peer.send` to the peer `to`, or
 * `sw.broadcast` (the waiting kind) to every peer. Reports how many sends (one per peer for a broadcast) were
 * refused before any time passed, and how many calls were still waiting.
 */
async function sendMany (req: SendManyRequest): Promise<{ refusedAtOnce: number, pending: number }> {
  let settled = 0
  let refused = 0
  for (let i = 0; i < req.count; i++) {
    // An application sending over time, not in one synchronous loop: refused messages can be collected meanwhile.
    if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve))
    const message = new Uint8Array(req.size).fill(i & 0xff)
    if (req.via === 'broadcast') {
      void sw.broadcast(req.chId, message).then((r) => { settled++; refused += r.filter((x) => !x.queued).length })
    } else {
      const peer = sw.peers.get(req.to!)
      if (peer === undefined) throw new Error(`no peer ${req.to}`)
      void peer.send(req.chId, message).then((ok) => { settled++; if (!ok) refused++ })
    }
  }
  await new Promise((resolve) => setImmediate(resolve)) // what settled at once has run its callbacks by now
  return { refusedAtOnce: refused, pending: req.count - settled }
}

process.on('message', (raw: unknown) => {
  const msg = raw as { op: string, seq: number, address?: string, sendMany?: SendManyRequest }
  void (async () => {
    try {
      switch (msg.op) {
        case 'stats': send({ seq: msg.seq, stats: stats() }); break
        case 'gc': globalThis.gc?.(); send({ seq: msg.seq, stats: stats() }); break
        case 'book': send({ seq: msg.seq, entries: book === undefined ? [] : [...book.entries()].map((e) => ({ addr: e.addr.toString(), src: e.src.toString(), bucketType: e.bucketType })) }); break
        case 'sendMany': send({ seq: msg.seq, result: await sendMany(msg.sendMany!) }); break
        case 'dial': {
          try {
            await sw.dial(msg.address!)
            send({ seq: msg.seq, ok: true })
          } catch (err) {
            send({ seq: msg.seq, ok: false, error: { name: (err as Error).name, reason: (err as { reason?: string }).reason, message: (err as Error).message } })
          }
          break
        }
        case 'stop': {
          await sw.stop()
          send({ seq: msg.seq, ok: true })
          process.exit(0)
        }
      }
    } catch (err) {
      send({ seq: msg.seq, error: String(err) })
    }
  })()
})
process.on('disconnect', () => { process.exit(0) })

await sw.start()
send({ op: 'ready', port: sw.listenAddress!.port, id: sw.nodeId })
