/**
 * A terminal chat over rx-p2p: run it in two or three terminals (see README.md in this folder).
 *
 *   node --import tsx examples/chat/main.ts --nick alice --port 26701
 *   node --import tsx examples/chat/main.ts --nick bob --port 26702 --peer alice@127.0.0.1:26701
 *
 * A `--peer` is `id@host:port`, or `nick@host:port` for another chat started with that nickname: for this demo
 * the node key is derived from the nickname, so its ID is known in advance. (Never do that for a real node:
 * anyone who knows the name has the key.)
 */
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { sha256 } from '@noble/hashes/sha2.js'
import { Subject } from 'rxjs'
import { isValidNodeId, NetAddress, NodeKey, Switch } from '../../lib/index.js'
import { createChat } from './chat-reactor.js'

const { values } = parseArgs({
  options: {
    nick: { type: 'string' },
    port: { type: 'string', default: '26701' },
    host: { type: 'string', default: '127.0.0.1' },
    peer: { type: 'string', multiple: true, default: [] },
    network: { type: 'string', default: 'rx-p2p-chat' }
  }
})
if (values.nick === undefined || !/^[A-Za-z0-9_-]{1,32}$/.test(values.nick)) {
  process.stderr.write('usage: main.ts --nick <name> [--port 26701] [--peer <id|nick>@host:port ...]\n')
  process.exit(2)
}
const nick = values.nick

/** The demo key of a nickname: ed25519 seed = SHA-256("rx-p2p chat demo/" + nick). */
function demoKey (name: string): NodeKey {
  return NodeKey.fromSeed(sha256(new TextEncoder().encode(`rx-p2p chat demo/${name}`)))
}

function parsePeer (text: string): NetAddress {
  const at = text.lastIndexOf('@')
  const who = at < 0 ? '' : text.slice(0, at)
  if (who !== '' && !isValidNodeId(who)) return NetAddress.parse(`${demoKey(who).id}@${text.slice(at + 1)}`)
  return NetAddress.parse(text)
}

const lines$ = new Subject<string>()
const chat = createChat({ nick, lines$ })
const sw = new Switch({
  nodeKey: demoKey(nick),
  moniker: nick,
  network: values.network,
  listenAddress: `${values.host}:${values.port}`,
  allowDuplicateIp: true, // every chat runs on 127.0.0.1
  persistentPeers: values.peer.map(parsePeer),
  reactors: [chat.reactor]
})

const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY })
const print = (line: string): void => {
  if (process.stdin.isTTY) {
    process.stdout.write(`\r\x1b[K${line}\n`)
    rl.prompt(true)
  } else {
    process.stdout.write(`${line}\n`)
  }
}

chat.display$.subscribe((line) => {
  if (line.kind === 'peer') print(`* ${line.text}`)
  else if (line.via !== undefined) print(`<${line.message.nick}> ${line.message.text}${line.via !== line.message.nick ? `  (via ${line.via})` : ''}`)
})
sw.peerEvents$.subscribe((e) => {
  if (e.type === 'dialFailed') print(`* could not reach ${e.address.hostPort}: ${e.error.message} (retrying)`)
})

await sw.start()
print(`* ${nick} is ${sw.listenAddress!.toString()}`)
print(`* others join with: --peer ${nick}@${sw.listenAddress!.hostPort}`)
const prompt = (): void => { if (process.stdin.isTTY) rl.prompt() }
rl.setPrompt(`${nick}> `)
prompt()
rl.on('line', (line) => {
  if (line.trim() === '/peers') {
    print(`* peers: ${sw.peers.list().map((p) => `${p.nodeInfo.moniker} (${p.isOutbound ? 'out' : 'in'})`).join(', ') || 'none'}`)
  } else if (line.trim() === '/quit') {
    rl.close()
  } else {
    lines$.next(line)
  }
  prompt()
})

let stopping = false
const shutdown = async (): Promise<void> => {
  if (stopping) return
  stopping = true
  print('* leaving')
  lines$.complete()
  await sw.stop()
  rl.close()
}
rl.on('close', () => { void shutdown() })
process.on('SIGINT', () => { void shutdown() })
