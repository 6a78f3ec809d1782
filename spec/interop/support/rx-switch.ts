/**
 * The rx-p2p side of the interop scenarios through the user-facing API: a {@link Switch} with reactors, set
 * up for loopback (duplicate IPs allowed, listen on a free port), whose peer events are all recorded (for
 * tests that start waiting after the event happened) and logged, one line each, to a file beside the nodes'
 * logs (`<log dir>/switch-<moniker>.log`), which is how a refusal's reason is "logged on our side".
 */
import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { filter, firstValueFrom, ReplaySubject, timeout, type Observable } from 'rxjs'
import { NodeKey } from '../../../lib/crypto/node-key.js'
import { P2PError } from '../../../lib/errors.js'
import type { PeerEvent } from '../../../lib/switch/events.js'
import type { Reactor } from '../../../lib/switch/reactor.js'
import { Switch, type SwitchInit } from '../../../lib/switch/switch.js'
import { logDirectory } from './cometbft.js'

/** An error as one log token: `Class(rule)[code]: message`. */
export function describeError (error: Error | undefined): string {
  if (error === undefined) return 'graceful'
  const detail = error as Error & { rule?: string, reason?: string, code?: string }
  const rule = typeof detail.rule === 'string' ? detail.rule : typeof detail.reason === 'string' ? detail.reason : undefined
  const code = error instanceof P2PError ? `[${error.code}]` : ''
  return `${error.name}${rule !== undefined ? `(${rule})` : ''}${code}: ${error.message}`
}

/** One peer event as a log line. */
export function formatPeerEvent (e: PeerEvent): string {
  switch (e.type) {
    case 'added': return `added ${e.peer.isOutbound ? 'outbound' : 'inbound'} ${e.peer.id} moniker=${e.peer.nodeInfo.moniker} version=${e.peer.nodeInfo.version}`
    case 'removed': return `removed ${e.peer.id} moniker=${e.peer.nodeInfo.moniker} reason=${describeError(e.reason)}`
    case 'dialed': return `dialed ${e.address.toString()}`
    case 'dialFailed': return `dialFailed ${e.address.toString()} error=${describeError(e.error)}`
    case 'rejected': return `rejected from=${e.remoteAddress !== undefined ? `${e.remoteAddress.host}:${e.remoteAddress.port}` : '?'} peer=${e.peerId ?? '?'} error=${describeError(e.error)}`
  }
}

/** Options of {@link startSwitch}: the Switch's, with loopback defaults. */
export interface RxSwitchOptions extends Partial<SwitchInit> {
  /** @default a fresh key */
  nodeKey?: NodeKey
  /** The chain ID. */
  network: string
  moniker: string
  reactors: Reactor[]
  /** Listen on 127.0.0.1 (free port). @default true */
  listen?: boolean
}

/** A started Switch with its recorded events and log. */
export class RxSwitch {
  /** Every peer event so far, formatted (also appended to {@link logPath}). */
  readonly log: string[] = []
  readonly #events = new ReplaySubject<PeerEvent>()

  constructor (readonly sw: Switch, readonly logPath: string) {
    sw.peerEvents$.subscribe((e) => {
      this.#events.next(e)
      const line = formatPeerEvent(e)
      this.log.push(line)
      appendFileSync(logPath, `${new Date().toISOString()} ${line}\n`)
    })
  }

  /** Hot, replays every event since start. */
  get events$ (): Observable<PeerEvent> {
    return this.#events.asObservable()
  }

  /** `id@127.0.0.1:port` (for a node's persistent_peers / seeds). */
  get address (): string {
    return this.sw.listenAddress!.toString()
  }

  /** Resolves with the first event (since start) of `type` that passes `pred`. */
  async event<T extends PeerEvent['type']> (type: T, pred: (e: Extract<PeerEvent, { type: T }>) => boolean = () => true, ms = 15_000): Promise<Extract<PeerEvent, { type: T }>> {
    return await firstValueFrom(this.#events.pipe(
      filter((e): e is Extract<PeerEvent, { type: T }> => e.type === type),
      filter(pred),
      timeout({ first: ms, with: () => { throw new Error(`no '${type}' event within ${ms} ms; events so far:\n  ${this.log.join('\n  ')}`) } })
    ))
  }

  /** Events of `type` so far. */
  recorded<T extends PeerEvent['type']> (type: T): Array<Extract<PeerEvent, { type: T }>> {
    const out: Array<Extract<PeerEvent, { type: T }>> = []
    this.#events.subscribe((e) => { if (e.type === type) out.push(e as Extract<PeerEvent, { type: T }>) }).unsubscribe()
    return out
  }

  async stop (): Promise<void> {
    await this.sw.stop()
  }
}

/** Creates and starts a Switch for talking to CometBFT nodes on loopback. */
export async function startSwitch (options: RxSwitchOptions): Promise<RxSwitch> {
  const { listen = true, ...init } = options
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    allowDuplicateIp: true, // every node is on 127.0.0.1
    dialRandomizerMs: 0,
    stopFlushTimeoutMs: 300,
    ...(listen ? { listenAddress: '127.0.0.1:0' } : {}),
    ...init
  })
  const rx = new RxSwitch(sw, join(logDirectory(), `switch-${options.moniker.replace(/[^A-Za-z0-9._-]/g, '_')}.log`))
  await sw.start()
  return rx
}
