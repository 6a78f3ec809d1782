/**
 * `npm start`: a local network of five rx-p2p nodes over TCP on 127.0.0.1, in one process.
 *
 * Every node runs the chat reactor of `examples/chat`. The nodes form a ring of persistent peers; every
 * 1.5 s one of them says something, and the message floods to all. Along the way the script shows what the
 * Switch does on its own:
 * - a misbehaving node ("mallory") joins and sends a malformed message: it is disconnected with a DecodeError;
 * - node3 goes down and comes back on the same address: its neighbours redial it (persistent peers, on
 *   CometBFT's schedule: at once, then every 5 s + up to 3 s).
 * Every peer event is printed as it happens. It runs `--seconds` (default 25) or until Ctrl-C, then stops
 * every node and exits.
 *
 *   npm start
 *   npm start -- --seconds 60 --nodes 6
 */
import { parseArgs } from 'node:util'
import { filter, map, Subject } from 'rxjs'
import { actions, NodeKey, ofEventType, Switch, type PeerEvent, type Reactor } from '../../lib/index.js'
import { CHAT_CHANNEL, createChat, type ChatLine } from '../chat/chat-reactor.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '25' },
    nodes: { type: 'string', default: '5' }
  }
})
const seconds = Math.max(5, Number(values.seconds))
const size = Math.min(16, Math.max(4, Number(values.nodes)))
const t0 = Date.now()
const stamp = (): string => `[${((Date.now() - t0) / 1000).toFixed(2).padStart(6)}s]`
const log = (line: string): void => { process.stdout.write(`${stamp()} ${line}\n`) }

interface DemoNode {
  name: string
  key: NodeKey
  sw: Switch
  lines$: Subject<string>
  port: number
}

const nodes: DemoNode[] = []
const heard = new Map<string, Set<string>>() // message id → nodes that displayed it

function describe (name: string, e: PeerEvent): string | undefined {
  switch (e.type) {
    case 'added': return `${name.padEnd(7)} + ${e.peer.nodeInfo.moniker.padEnd(7)} peer added (${e.peer.isOutbound ? 'outbound' : 'inbound'}${e.peer.isPersistent ? ', persistent' : ''})`
    case 'removed': return `${name.padEnd(7)} - ${e.peer.nodeInfo.moniker.padEnd(7)} peer removed: ${e.reason === undefined ? 'stopped' : `${e.reason.name}: ${e.reason.message}`}`
    case 'dialFailed': return `${name.padEnd(7)} ! dial ${e.address.hostPort} failed: ${e.error.name}: ${e.error.message}`
    case 'rejected': return `${name.padEnd(7)} ! refused ${e.remoteAddress?.port ?? '?'}: ${e.error.name}: ${e.error.message}`
    case 'dialed': return undefined
  }
}

async function startNode (name: string, key: NodeKey, port: number, persistentPeers: string[]): Promise<DemoNode> {
  const lines$ = new Subject<string>()
  const chat = createChat({ nick: name, lines$ })
  const sw = new Switch({
    nodeKey: key,
    moniker: name,
    network: 'rx-p2p-demo',
    listenAddress: `127.0.0.1:${port}`,
    allowDuplicateIp: true, // all on 127.0.0.1
    persistentPeers,
    reactors: [chat.reactor]
  })
  sw.peerEvents$.subscribe((e) => {
    const line = describe(name, e)
    if (line !== undefined) log(line)
  })
  sw.reactorErrors$.subscribe((f) => { log(`${name} reactor ${f.reactor} failed: ${f.error.message}`) })
  chat.display$.pipe(filter((l): l is Extract<ChatLine, { kind: 'message' }> => l.kind === 'message')).subscribe((l) => {
    let set = heard.get(l.message.id)
    if (set === undefined) heard.set(l.message.id, set = new Set())
    set.add(name)
  })
  await sw.start()
  return { name, key, sw, lines$, port: sw.listenAddress!.port }
}

/** A node whose chat reactor sends bytes that are not a chat message to every peer it meets. */
function mallory (): Reactor {
  return {
    name: 'mallory',
    channels: [{ id: CHAT_CHANNEL, priority: 1 }],
    run: (ctx) => ctx.peerEvents$.pipe(
      ofEventType('added'),
      map(({ peer }) => actions.trySend(peer, CHAT_CHANNEL, new TextEncoder().encode('{"this is": not json')))
    )
  }
}

const script = [
  'hello, network', 'anyone on the mempool channel?', 'no, this is the chat channel (0xc7)',
  'messages flood: each node relays what it has not seen', 'so node0 hears node2 through node1',
  'a reactor is a pure function: envelopes in, actions out', 'and the Switch executes the actions',
  'persistent peers get redialed', 'on CometBFT\'s schedule', '20 attempts 5 s apart, then backoff',
  'goodbye soon'
]

let stopping = false
const timers: NodeJS.Timeout[] = []
const at = (ms: number, fn: () => void | Promise<void>): void => {
  timers.push(setTimeout(() => { if (!stopping) void Promise.resolve(fn()).catch((err: unknown) => { log(`error: ${String(err)}`) }) }, ms))
}

async function main (): Promise<void> {
  log(`rx-p2p local network: ${size} nodes on 127.0.0.1, chat reactor on channel 0x${CHAT_CHANNEL.toString(16)}; ${seconds} s or Ctrl-C`)
  const keys = Array.from({ length: size }, () => NodeKey.generate())
  // Start every node (port 0: the OS picks), then wire a ring: node i dials node i-1 (persistent), node0 dials the last.
  for (let i = 0; i < size; i++) nodes.push(await startNode(`node${i}`, keys[i]!, 0, []))
  for (const n of nodes) log(`${n.name.padEnd(7)}   listening on ${n.sw.listenAddress!.toString()}`)
  for (let i = 0; i < size; i++) {
    const target = nodes[(i + size - 1) % size]!
    nodes[i]!.sw.dial(target.sw.listenAddress!, { persistent: true }).catch(() => {})
  }

  let line = 0
  const speak = (): void => {
    const up = nodes.filter((n) => n.sw.isRunning)
    const speaker = up[line % up.length]!
    const text = script[line % script.length]!
    line++
    const before = new Set(heard.keys())
    speaker.lines$.next(text)
    const id = [...heard.keys()].find((k) => !before.has(k))
    log(`${speaker.name.padEnd(7)} says "${text}"`)
    setTimeout(() => {
      if (id === undefined) return
      const reached = [...(heard.get(id) ?? [])].filter((n) => n !== speaker.name)
      log(`${''.padEnd(7)}   ...reached ${reached.length}/${up.length - 1}: ${reached.sort().join(', ')}`)
    }, 700).unref()
  }
  for (let t = 1500; t < seconds * 1000 - 1000; t += 1500) at(t, speak)

  // A misbehaving node joins node2 and is disconnected for its malformed message.
  at(5000, async () => {
    log('mallory joins node2 and sends a malformed chat message')
    const bad = new Switch({ nodeKey: NodeKey.generate(), moniker: 'mallory', network: 'rx-p2p-demo', allowDuplicateIp: true, reactors: [mallory()] })
    await bad.start()
    bad.peerEvents$.subscribe((e) => { const d = describe('mallory', e); if (d !== undefined) log(d) })
    await bad.dial(nodes[2]!.sw.listenAddress!).catch(() => {})
    setTimeout(() => { void bad.stop() }, 2000).unref()
  })

  // node3 goes down, and comes back on the same address with the same key.
  const victim = Math.min(3, size - 1)
  at(9000, async () => {
    const n = nodes[victim]!
    log(`${n.name} goes down`)
    await n.sw.stop()
  })
  at(11000, async () => {
    const n = nodes[victim]!
    log(`${n.name} comes back on port ${n.port}; its neighbours redial it`)
    const back = await startNode(n.name, n.key, n.port, [nodes[(victim + size - 1) % size]!.sw.listenAddress!.toString()])
    nodes[victim] = back
  })

  await new Promise<void>((resolve) => {
    timers.push(setTimeout(resolve, seconds * 1000))
    process.once('SIGINT', () => { log('Ctrl-C'); resolve() })
  })
  await shutdown()
}

async function shutdown (): Promise<void> {
  stopping = true
  for (const t of timers) clearTimeout(t)
  log('stopping every node')
  await Promise.all(nodes.map(async (n) => { n.lines$.complete(); await n.sw.stop() }))
  log(`done: ${heard.size} messages, ${[...heard.values()].filter((s) => s.size === nodes.length).length} of them heard by all ${nodes.length} nodes`)
}

await main()
