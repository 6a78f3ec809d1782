/**
 * `rx-p2p node`: runs a node with PEX and an address book kept in a CometBFT-style home directory.
 *
 * @module
 */
import { mkdir, readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { filter } from 'rxjs'
import { NodeKey } from '../crypto/node-key.js'
import { AddrBookCorruptError, InvalidAddressError } from '../errors.js'
import { AddrBook } from '../pex/addr-book.js'
import { pexReactor } from '../pex/pex-reactor.js'
import type { PeerEvent } from '../switch/events.js'
import { Switch, type SwitchInit } from '../switch/switch.js'
import { DEFAULT_NETWORK } from '../switch/defaults.js'
import { NetAddress } from '../transport/net-address.js'
import {
  UsageError, describeError, flag, homeDir, homePaths, parseCommandArgs, parseCount, parseList, println, stringOption,
  type CliContext
} from './args.js'

/** The default listen address, as CometBFT's `p2p.laddr`. */
export const DEFAULT_LISTEN = 'tcp://0.0.0.0:26656'

/** `rx-p2p node --help`. */
export const NODE_USAGE = `usage: rx-p2p node [options]

Runs an rx-p2p node with PEX. The node key and the address book live in <home>/config (node_key.json,
addrbook.json: CometBFT's layout, so a home made by 'cometbft init' works). Peer events are printed on
stdout. SIGINT or SIGTERM stops the node cleanly and saves the address book.

options:
  --home <dir>                 home directory (default: $RX_P2P_HOME, else ~/.rx-p2p)
  --listen <addr>              where to accept peers (default: ${DEFAULT_LISTEN}; port 0 picks one)
  --external-address <host:port>  the address we advertise (default: the listen address)
  --network <chain-id>         network (default: chain_id of <home>/config/genesis.json, else ${DEFAULT_NETWORK})
  --moniker <name>             our name (default: the host name)
  --persistent-peers <list>    comma-separated id@host:port, kept connected
  --seeds <list>               comma-separated id@host:port, asked for addresses when the book is short
  --seed-mode                  crawl the network and hand out addresses (CometBFT seed_mode)
  --pex                        peer exchange (always on: it is the node's only reactor, and CometBFT refuses a
                               peer that shares no channel with it, so --no-pex is refused)
  --allow-private              accept private and loopback addresses (CometBFT addr_book_strict = false)
  --allow-duplicate-ip         accept several peers from one IP (CometBFT allow_duplicate_ip)
  --max-inbound <n>            inbound peer limit (default: 40)
  --max-outbound <n>           outbound peer target (default: 10)
  -h, --help                   this help
`

const OPTIONS = {
  home: { type: 'string' },
  listen: { type: 'string' },
  'external-address': { type: 'string' },
  network: { type: 'string' },
  moniker: { type: 'string' },
  'persistent-peers': { type: 'string' },
  seeds: { type: 'string' },
  'seed-mode': { type: 'boolean' },
  pex: { type: 'boolean' },
  'allow-private': { type: 'boolean' },
  'allow-duplicate-ip': { type: 'boolean' },
  'max-inbound': { type: 'string' },
  'max-outbound': { type: 'string' }
} as const

/** Runs `rx-p2p node` until SIGINT/SIGTERM; resolves with the exit status. @throws {UsageError} */
export async function nodeCommand (args: readonly string[], ctx: CliContext): Promise<number> {
  const parsed = parseCommandArgs('node', args, OPTIONS)
  if (flag(parsed, 'help')) {
    ctx.stdout.write(NODE_USAGE)
    return 0
  }
  const out = ctx.stdout
  const str = (name: keyof typeof OPTIONS): string | undefined => stringOption(parsed, name)
  const addresses = (option: string, text: string | undefined): NetAddress[] => parseList(text).map((a) => {
    try {
      return NetAddress.parse(a)
    } catch (err) {
      if (err instanceof InvalidAddressError) throw new UsageError(`node: --${option}: ${err.message}`)
      throw err
    }
  })
  const persistentPeers = addresses('persistent-peers', str('persistent-peers'))
  const seeds = addresses('seeds', str('seeds'))
  const listen = str('listen') ?? DEFAULT_LISTEN
  const maxInbound = str('max-inbound')
  const maxOutbound = str('max-outbound')
  const strict = !flag(parsed, 'allow-private')
  if (parsed.values.pex === false) {
    throw new UsageError('node: --no-pex: PEX is the only reactor of this node; without it the node would offer no channel, and CometBFT peers refuse a node that shares no channel with them')
  }

  const home = homeDir(parsed, ctx.env)
  const paths = homePaths(home)
  await mkdir(paths.config, { recursive: true, mode: 0o700 })
  const nodeKey = await NodeKey.loadOrGenerate(paths.nodeKey)
  const network = str('network') ?? await genesisChainId(paths.genesis) ?? DEFAULT_NETWORK

  const book = new AddrBook({ filePath: paths.addrBook, addrBookStrict: strict })
  book.events$.subscribe((e) => {
    if (e.type === 'loaded' && e.dropped + e.skipped > 0) {
      println(out, `address book loaded: ${e.size} addresses; ${e.dropped} entries dropped (every bucket they list was full), ${e.skipped} skipped (invalid, no bucket or a duplicate ID)`)
    }
  })
  // A large file takes a while to load (it is read in slices that yield): a signal meanwhile abandons the load,
  // leaves the file as it was, and ends the command.
  let interrupted: NodeJS.Signals | undefined
  const removeLoadSignal = ctx.onSignal((signal) => {
    if (interrupted !== undefined) return
    interrupted = signal
    println(out, `stopping (${signal})`)
    void book.stop()
  })
  try {
    println(out, `loading address book ${paths.addrBook}`)
    try {
      await book.start()
    } catch (err) {
      if (!(err instanceof AddrBookCorruptError)) throw err
      println(ctx.stderr, `node: ${err.message}${err.movedTo !== undefined ? ` (set aside as ${err.movedTo})` : ''}; starting with an empty address book`)
      await book.start()
    }
  } finally {
    removeLoadSignal()
  }
  if (interrupted !== undefined) {
    println(out, 'stopped')
    return 0
  }
  const pex = pexReactor({ book, seeds, seedMode: flag(parsed, 'seed-mode'), isPersistent: (a) => sw.isPeerPersistent(a) })
  const init: SwitchInit = {
    nodeKey,
    reactors: [pex],
    listenAddress: listen,
    network,
    moniker: str('moniker') ?? defaultMoniker(),
    persistentPeers,
    allowDuplicateIp: flag(parsed, 'allow-duplicate-ip')
  }
  const external = str('external-address')
  if (external !== undefined) init.externalAddress = external
  if (maxInbound !== undefined) init.maxInboundPeers = parseCount('max-inbound', maxInbound)
  if (maxOutbound !== undefined) init.maxOutboundPeers = parseCount('max-outbound', maxOutbound)
  let sw: Switch
  try {
    sw = new Switch(init)
  } catch (err) {
    if (err instanceof InvalidAddressError) throw new UsageError(`node: ${err.message}`)
    throw err
  }

  sw.peerEvents$.subscribe((e) => { println(out, describePeerEvent(e)) })
  pex.gossip$.pipe(filter((l) => l.result === 'added')).subscribe((l) => {
    println(out, `learned ${l.address.toString()} from ${l.from.nodeInfo.moniker} (${l.from.id})`)
  })

  let stopping: Promise<void> | undefined
  let stopped!: () => void
  const done = new Promise<void>((resolve) => { stopped = resolve })
  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      println(out, `stopping (${why})`)
      try {
        await sw.stop() // PEX saves the book before this resolves, and rejects when it could not
        await book.stop() // when the reactor never ran (a failed start), the book is still ours to stop
        println(out, `address book saved: ${book.size} address${book.size === 1 ? '' : 'es'} in ${paths.addrBook}`)
      } catch (err) {
        println(ctx.stderr, `node: could not save the address book: ${describeError(err)}`)
      }
      stopped()
    })()
    return stopping
  }
  const removeSignal = ctx.onSignal((signal) => { void stop(signal) })
  try {
    println(out, `node ${nodeKey.id} (${init.moniker}) on network ${network}, home ${home}`)
    try {
      await sw.start()
    } catch (err) {
      await stop('start failed')
      throw err
    }
    println(out, `listening on tcp://${sw.listenAddress!.hostPort} (advertised ${sw.nodeInfo.listenAddr})`)
    println(out, `address book ${paths.addrBook}: ${book.size} address${book.size === 1 ? '' : 'es'}${strict ? '' : ' (private addresses allowed)'}`)
    await done
  } finally {
    removeSignal()
  }
  println(out, 'stopped')
  return 0
}

/** The `chain_id` of a genesis.json, or undefined when there is no such file. */
async function genesisChainId (path: string): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const chainId = (JSON.parse(text) as { chain_id?: unknown }).chain_id
  if (typeof chainId !== 'string' || chainId === '') throw new Error(`${path} has no chain_id`)
  return chainId
}

function defaultMoniker (): string {
  const name = hostname().replace(/[^\x20-\x7e]/g, '').trim()
  return name === '' ? 'rx-p2p' : name
}

function describePeerEvent (e: PeerEvent): string {
  switch (e.type) {
    case 'added': {
      const p = e.peer
      const where = p.isOutbound ? p.socketAddr.toString() : `${p.id}@${p.remoteAddress.host}:${p.remoteAddress.port}`
      return `peer added ${where} (${p.nodeInfo.moniker}, ${p.isOutbound ? 'outbound' : 'inbound'}${p.isPersistent ? ', persistent' : ''})`
    }
    case 'removed': return `peer removed ${e.peer.id} (${e.peer.nodeInfo.moniker}): ${e.reason === undefined ? 'disconnected' : describeError(e.reason)}`
    case 'dialed': return `dialed ${e.address.toString()}`
    case 'dialFailed': return `dial failed ${e.address.toString()}: ${describeError(e.error)}`
    case 'rejected': {
      const from = e.remoteAddress !== undefined ? `${e.remoteAddress.host}:${e.remoteAddress.port}` : 'unknown address'
      return `rejected ${from}${e.peerId !== undefined ? ` (${e.peerId})` : ''}: ${describeError(e.error)}`
    }
  }
}
