/**
 * The multiplex transport (CometBFT's `MultiplexTransport`, `p2p/transport.go`): what stands between the raw
 * byte streams of a {@link Transport} and the Switch. It owns the listener and its gate, the connection filters
 * (the owner's filters by IP, then the inbound-connection limit, the duplicate-IP filter, the pending-handshake
 * limits and the handshake buckets), the set of live connections, the upgrade of every connection
 * (SecretConnection, dialed-ID check, NodeInfo exchange and rules) and the cancellation of handshakes in flight.
 * What comes out is an upgraded connection, or a typed refusal; making a peer of it is the Switch's business.
 *
 * @module
 */
import { setMaxListeners } from 'node:events'
import { asyncScheduler, Observable, Subscription, type SchedulerLike, type Subscriber } from 'rxjs'
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from '../conn/defaults.js'
import type { SecretConnection } from '../conn/secret-connection.js'
import type { NodeId } from '../crypto/node-id.js'
import type { NodeKey } from '../crypto/node-key.js'
import { PeerRejectedError, TransportError } from '../errors.js'
import type { DuplexConnection, HostPort } from '../transport/duplex.js'
import { NetAddress } from '../transport/net-address.js'
import { TcpTransport } from '../transport/tcp.js'
import type { Listener, Transport } from '../transport/transport.js'
import type { NodeInfo } from '../wire/node-info.js'
import { checkDuplicateIp, ConnSet } from './conn-set.js'
import { DEFAULT_DIAL_TIMEOUT_MS } from './defaults.js'
import { dialWithTimeout } from './dial.js'
import { HandshakeRateLimiter, type HandshakeRateLimiterInit } from './handshake-rate.js'
import { PendingHandshakes } from './pending-handshakes.js'
import { upgradeConnection, type UpgradeInit } from './upgrade.js'

/**
 * A connection filter by remote IP (CometBFT `ConnFilterFunc`, which sees the connection and its IPs): returns
 * the refusal, or `undefined` to let the connection on. Asked first, before the transport's own limits: at
 * accept with `dialed` undefined (in the listener's gate when it has one), and on a dialed connection once its
 * IP is known, with the address dialed. The Switch's IP bans are one. Keep it cheap: at accept it runs for
 * every connection a stranger opens.
 */
export type ConnFilter = (ip: string, dialed: NetAddress | undefined) => PeerRejectedError | undefined

/** Options of {@link MultiplexTransport}. */
export interface MultiplexTransportInit {
  /** Our node key: the handshake's identity and signatures. */
  nodeKey: NodeKey
  /**
   * Our NodeInfo, asked at each upgrade (the owner's NodeInfo names the listen address, known only once the
   * listener is bound).
   */
  nodeInfo: () => NodeInfo
  /** How raw connections are made. @default a TcpTransport on this transport's scheduler */
  transport?: Transport
  /** Every timer: dial, handshake, handshake buckets. @default asyncScheduler */
  scheduler?: SchedulerLike
  /** Aborts every dial and upgrade in flight, for good (the Switch's stop). @default none */
  signal?: AbortSignal
  /** Deadline for opening a connection in ms. @default 1000 */
  dialTimeoutMs?: number
  /** Deadline for the secret handshake, and separately for the NodeInfo exchange, in ms. @default 3000 */
  handshakeTimeoutMs?: number
  /** Accept several connections from one IP (CometBFT `allow_duplicate_ip`). @default false */
  allowDuplicateIp?: boolean
  /**
   * Inbound connections past their handshakes (CometBFT's `LimitListener` on `max_num_inbound_peers`, which
   * counts the handshakes too); a connection beyond it is closed at accept. @default 40
   */
  maxInboundConnections?: number
  /**
   * Slots beyond `maxInboundConnections`, asked at each accept (CometBFT adds the number of unconditional peer
   * IDs to its listener's limit). @default () => 0
   */
  extraInboundConnections?: () => number
  /** Inbound connections in their handshakes at once; a newcomer evicts one past it (see `PendingHandshakes`). @default 32 */
  maxPendingHandshakes?: number
  /** Inbound connections in their handshakes at once from one remote IP. @default 4 */
  maxPendingHandshakesPerIp?: number
  /** The handshake CPU limit (see `HandshakeRateLimiter`). @default 10 then 2/s per IP; 100 then 50/s in total */
  handshakeRate?: Omit<HandshakeRateLimiterInit, 'scheduler'>
  /** Filters by remote IP, asked before every other check (see {@link ConnFilter}). @default [] */
  connFilters?: readonly ConnFilter[]
  /**
   * Asked with the remote's authenticated ID of an inbound connection, right after the secret handshake and
   * before NodeInfo is sent: throwing refuses it with that error (the Switch's ID bans). @default none
   */
  onAuthenticated?: (remoteId: NodeId) => void
}

/** A raw connection that passed the upgrade: what the Switch makes a peer of. */
export interface PeerConnection {
  /** The encrypted connection; the MConnection reads and writes it. */
  readonly conn: SecretConnection
  /** The raw connection under it (its `closed$` says when the socket is gone). */
  readonly raw: DuplexConnection
  /** The remote's NodeInfo, validated and compatible with ours. */
  readonly nodeInfo: NodeInfo
  /** The remote's authenticated node ID. */
  readonly remoteId: NodeId
  /** True for a connection we dialed. */
  readonly outbound: boolean
  /** Outbound: the address dialed; inbound: the authenticated ID at the socket's remote host and port. */
  readonly socketAddr: NetAddress
  /** The socket's remote end, as the raw connection has it (`undefined` when unknown). */
  readonly remoteAddress: HostPort | undefined
}

/** What {@link MultiplexTransport.accept} emits. */
export type AcceptEvent =
  /** A connection passed every filter and the upgrade. */
  | { readonly type: 'accepted', readonly conn: PeerConnection }
  /**
   * A connection was refused (a `PeerRejectedError` naming the rule, or the upgrade's typed error) and closed;
   * or, with `remoteAddress` undefined and a `TransportError`, the listener failed to accept.
   */
  | { readonly type: 'refused', readonly remoteAddress: HostPort | undefined, readonly peerId: NodeId | undefined, readonly error: Error }

/**
 * The multiplex transport: listens with a gate, filters and upgrades every connection, and dials and upgrades.
 *
 * - {@link listen} binds; {@link accept} then yields upgraded inbound connections and typed refusals.
 * - {@link dial} opens, filters and upgrades an outbound connection.
 * - {@link close} stops accepting and cancels every handshake in flight.
 *
 * @example
 * ```ts
 * const mt = new MultiplexTransport({ nodeKey, nodeInfo: () => ours })
 * await mt.listen({ host: '127.0.0.1', port: 26656 })
 * mt.accept().subscribe((e) => {
 *   if (e.type === 'accepted') new MConnection(e.conn.conn, channels).start()
 *   else console.log('refused', e.error.name)
 * })
 * const { conn, nodeInfo } = await mt.dial(NetAddress.parse(`${id}@127.0.0.1:26657`))
 * ```
 */
export class MultiplexTransport {
  /** The clock of every timer. */
  readonly scheduler: SchedulerLike
  /** The inbound-connection limit (see {@link MultiplexTransportInit.maxInboundConnections}). */
  readonly maxInboundConnections: number
  readonly #init: MultiplexTransportInit
  readonly #transport: Transport
  readonly #allowDuplicateIp: boolean
  readonly #connFilters: readonly ConnFilter[]
  readonly #conns = new ConnSet()
  readonly #handshaking = new Set<DuplexConnection>()
  readonly #upgrades = new Set<Promise<void>>()
  readonly #pending: PendingHandshakes<DuplexConnection>
  readonly #evictions = new WeakMap<DuplexConnection, Error>()
  readonly #handshakeRate: HandshakeRateLimiter
  readonly #abort = new AbortController()
  #listener: Listener | undefined
  #out: Subscriber<AcceptEvent> | undefined
  #closed = false

  constructor (init: MultiplexTransportInit) {
    this.#init = init
    this.scheduler = init.scheduler ?? asyncScheduler
    this.#transport = init.transport ?? new TcpTransport({ scheduler: this.scheduler })
    this.#allowDuplicateIp = init.allowDuplicateIp ?? false
    this.#connFilters = init.connFilters ?? []
    this.maxInboundConnections = init.maxInboundConnections ?? 40
    this.#pending = new PendingHandshakes({ maxPending: init.maxPendingHandshakes, maxPendingPerIp: init.maxPendingHandshakesPerIp })
    this.#handshakeRate = new HandshakeRateLimiter({ ...init.handshakeRate, scheduler: this.scheduler })
    // Every dial and handshake in flight listens to this signal: more than 10 at once is normal.
    setMaxListeners(0, this.#abort.signal)
    const outer = init.signal
    if (outer !== undefined) {
      if (outer.aborted) this.#abort.abort(outer.reason)
      else outer.addEventListener('abort', () => { this.#abort.abort(outer.reason) }, { once: true })
    }
  }

  /** The address the listener is bound to, once {@link listen} resolved. */
  get listenAddress (): HostPort | undefined {
    return this.#listener?.address
  }

  /** Inbound connections in their handshakes now. */
  get pendingHandshakes (): number {
    return this.#pending.size
  }

  /** Remote IPs whose handshake buckets are remembered. */
  get trackedIps (): number {
    return this.#handshakeRate.trackedIps
  }

  /** The live raw connections by IP (CometBFT's `ConnSet`). */
  get connections (): ConnSet {
    return this.#conns
  }

  /**
   * Binds the listener, with this transport's gate: the checks by IP run on the raw socket, before the
   * underlying transport makes a connection of it (a transport that ignores the gate gets the same checks when
   * the connection arrives). Nothing is accepted until {@link accept} is subscribed.
   *
   * @returns the address bound (port 0 replaced)
   * @throws {TransportError} it cannot be bound, or the transport is already listening or closed
   */
  async listen (addr: HostPort): Promise<HostPort> {
    if (this.#closed) throw new TransportError('the multiplex transport is closed')
    if (this.#listener !== undefined) throw new TransportError('the multiplex transport is already listening')
    const listener = await this.#transport.listen(addr, { gate: this.#gate })
    if (this.#closed) {
      await listener.close()
      throw new TransportError('the multiplex transport was closed while binding')
    }
    this.#listener = listener
    return listener.address
  }

  /**
   * The inbound connections, each once it passed the filters and the upgrade, and each refusal (CometBFT's
   * `Accept`). Cold, one subscriber at a time: subscribing starts accepting on the bound listener (before it,
   * the gate refuses every connection, silently); unsubscribing stops it. Upgrades run side by side, so the
   * accept loop never waits for a handshake. Completes once {@link close} has settled every handshake.
   *
   * @throws {TransportError} (as an error notification) not listening, or already subscribed
   */
  accept (): Observable<AcceptEvent> {
    return new Observable<AcceptEvent>((subscriber) => {
      const listener = this.#listener
      if (listener === undefined || this.#closed) {
        subscriber.error(new TransportError('the multiplex transport is not listening'))
        return
      }
      if (this.#out !== undefined) {
        subscriber.error(new TransportError('the multiplex transport is already accepting'))
        return
      }
      this.#out = subscriber
      const subs = new Subscription()
      const listenerFailed = (error: Error): void => {
        subscriber.next({ type: 'refused', remoteAddress: undefined, peerId: undefined, error })
      }
      subs.add(listener.connections$.subscribe({
        next: (raw) => { this.#onAccept(raw) },
        // The listener is gone: no more inbound connections. Said once, as a refusal without a remote.
        error: (err: unknown) => { listenerFailed(new TransportError(`the listener failed and accepts no more connections: ${asError(err).message}`, { cause: err })) }
      }))
      if (listener.acceptErrors$ !== undefined) subs.add(listener.acceptErrors$.subscribe(listenerFailed))
      return () => {
        if (this.#out === subscriber) this.#out = undefined
        subs.unsubscribe()
      }
    })
  }

  /**
   * Dials `addr`, applies the connection filters and upgrades the connection with `addr.id` as the dialed ID
   * (CometBFT's `Dial`). The connection is the caller's once this resolves.
   *
   * @throws {TimeoutError} no connection within the dial deadline, or the upgrade's deadlines passed
   * @throws {PeerRejectedError} a connection filter refused it (`duplicate-ip`, or the owner's reason)
   * @throws the transport's and the upgrade's typed errors (see {@link upgradeConnection})
   */
  async dial (addr: NetAddress, options: { signal?: AbortSignal } = {}): Promise<PeerConnection> {
    const signal = options.signal === undefined ? this.#abort.signal : AbortSignal.any([options.signal, this.#abort.signal])
    const raw = await dialWithTimeout(this.#transport, { host: addr.host, port: addr.port }, {
      timeoutMs: this.#init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
      scheduler: this.scheduler,
      signal
    })
    try {
      // The address may name a host: its IP is known only now.
      const ip = raw.remoteAddress?.host ?? addr.host
      const refusal = this.#filter(ip, addr) ?? checkDuplicateIp(this.#conns.byIp, ip, this.#allowDuplicateIp)
      if (refusal !== undefined) {
        raw.destroy(refusal)
        throw refusal
      }
      this.#conns.add(raw, ip, false)
      this.#handshaking.add(raw)
      const up = await upgradeConnection(raw, { ...this.#upgradeInit(), dialedId: addr.id, signal })
      return { ...up, raw, outbound: true, socketAddr: addr, remoteAddress: raw.remoteAddress }
    } finally {
      this.#handshaking.delete(raw)
    }
  }

  /**
   * Stops accepting, closes the listener, and cancels every handshake in flight (each is refused on
   * {@link accept}, which then completes). Connections already handed out stay open. Resolves once the
   * listener is closed and every upgrade has settled. Idempotent.
   */
  async close (): Promise<void> {
    const first = !this.#closed
    this.#closed = true
    if (first && !this.#abort.signal.aborted) this.#abort.abort(new PeerRejectedError('stopped', 'the transport is closed'))
    const listener = this.#listener
    this.#listener = undefined
    const closing = listener?.close()
    for (const raw of this.#handshaking) raw.destroy()
    this.#handshaking.clear()
    this.#pending.clear()
    await Promise.all([closing, ...this.#upgrades])
    const out = this.#out
    this.#out = undefined
    out?.complete()
  }

  get #accepting (): boolean {
    return this.#out !== undefined && !this.#closed
  }

  #upgradeInit (): UpgradeInit {
    return {
      nodeKey: this.#init.nodeKey,
      nodeInfo: this.#init.nodeInfo(),
      scheduler: this.scheduler,
      handshakeTimeoutMs: this.#init.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      signal: this.#abort.signal
    }
  }

  #filter (ip: string, dialed: NetAddress | undefined): PeerRejectedError | undefined {
    for (const filter of this.#connFilters) {
      const refusal = filter(ip, dialed)
      if (refusal !== undefined) return refusal
    }
    return undefined
  }

  /** Reports a refusal on {@link accept}. */
  #refused (remoteAddress: HostPort | undefined, peerId: NodeId | undefined, error: Error): void {
    this.#out?.next({ type: 'refused', remoteAddress, peerId, error })
  }

  /**
   * The listener's gate (`ListenOptions.gate`): the admission checks by IP on the raw socket, before the
   * transport makes a connection of it. A refused socket costs the accept, this check, one refusal and a reset;
   * none of a connection's objects. A listener that does not apply the gate gets the same checks in `#onAccept`.
   */
  readonly #gate = (remote: HostPort): boolean => {
    if (!this.#accepting) return false
    const error = this.#admissionRefusal(remote.host, true)
    if (error === undefined) return true
    this.#refused(remote, undefined, error)
    return false
  }

  /**
   * The admission checks by remote IP, cheapest first, every one before any handshake work: the connection
   * filters (the Switch's IP bans); the inbound-connection limit (connections past their handshakes only); the
   * duplicate-IP filter; the per-IP pending limit; and, when `takeToken`, the per-IP handshake bucket (the one
   * check that spends: a token). Undefined when the connection may go on. Every refusal is made without a stack
   * trace (it would be most of its cost at line rate, and says nothing: the reason and the message do).
   */
  #admissionRefusal (ip: string, takeToken: boolean): PeerRejectedError | undefined {
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    try {
      return this.#checkAdmission(ip, takeToken)
    } finally {
      Error.stackTraceLimit = limit
    }
  }

  #checkAdmission (ip: string, takeToken: boolean): PeerRejectedError | undefined {
    const filtered = this.#filter(ip, undefined)
    if (filtered !== undefined) return filtered
    // CometBFT wraps the listener in `netutil.LimitListener(max_num_inbound_peers + len(unconditional_peer_ids))`,
    // which counts connections still in their handshakes, so idle sockets take every slot. Here only
    // connections past their handshakes count (the precise check, unconditional peers aside, is the Switch's,
    // after the upgrade); those in their handshakes have their own limits below. Node cannot leave a connection
    // in the backlog, so one beyond the limit is closed at once.
    const upgraded = this.#conns.inbound - this.#pending.size
    if (upgraded >= this.maxInboundConnections + (this.#init.extraInboundConnections?.() ?? 0)) {
      return new PeerRejectedError('max-inbound', `already ${upgraded} inbound peers (max ${this.maxInboundConnections})`)
    }
    // CometBFT `ConnDuplicateIPFilter` (a conn filter, before the handshake), unless `allow_duplicate_ip`.
    const dup = checkDuplicateIp(this.#conns.byIp, ip, this.#allowDuplicateIp)
    if (dup !== undefined) return dup
    const perIp = this.#pending.check(ip)
    if (perIp !== undefined) return perIp
    if (takeToken && !this.#handshakeRate.admit(ip)) {
      return new PeerRejectedError('handshake-rate', `too many handshakes from ${ip} (${this.#handshakeRate.burstPerIp}, then ${this.#handshakeRate.ratePerIp}/s)`)
    }
    return undefined
  }

  /**
   * Admission of an accepted connection: the checks by IP (`#admissionRefusal`; from a gated listener they ran
   * on the socket already, and run again here without taking a second handshake token, which costs nothing for
   * a connection that passed); then it joins the pending handshakes, evicting one when they are full, and the
   * upgrade runs on its own.
   */
  #onAccept (raw: DuplexConnection): void {
    const remote = raw.remoteAddress
    if (!this.#accepting) {
      raw.destroy()
      return
    }
    const ip = remote?.host ?? ''
    const error = this.#admissionRefusal(ip, this.#listener?.gated !== true)
    if (error !== undefined) {
      raw.destroy(error)
      this.#refused(remote, undefined, error)
      return
    }
    const admission = this.#pending.add(raw, ip)
    if (!admission.admitted) {
      raw.destroy(admission.error)
      this.#refused(remote, undefined, admission.error)
      return
    }
    if (admission.evicted !== undefined) {
      const error = new PeerRejectedError('pending-evicted', `evicted from the ${this.#pending.maxPending} pending handshakes for a newer connection`)
      this.#evictions.set(admission.evicted, error)
      admission.evicted.destroy(error)
    }
    this.#conns.add(raw, ip, true)
    // The upgrade runs on its own: the accept loop goes on at once (CometBFT upgrades in a goroutine per connection).
    const upgrade = this.#upgradeInbound(raw, remote)
    this.#upgrades.add(upgrade)
    void upgrade.finally(() => { this.#upgrades.delete(upgrade) })
  }

  async #upgradeInbound (raw: DuplexConnection, remote: HostPort | undefined): Promise<void> {
    let peerId: NodeId | undefined
    this.#handshaking.add(raw)
    let accepted: PeerConnection
    try {
      const up = await upgradeConnection(raw, {
        ...this.#upgradeInit(),
        beforeKeyAgreement: () => {
          this.#pending.markProgressed(raw)
          if (!this.#handshakeRate.beginKeyAgreement()) {
            throw new PeerRejectedError('handshake-rate', 'too many handshakes in total (the node-wide handshake bucket is empty)')
          }
        },
        onAuthenticated: (id) => {
          peerId = id
          this.#init.onAuthenticated?.(id)
        }
      })
      const socketAddr = new NetAddress(up.remoteId, remote?.host ?? '0.0.0.0', remote?.port ?? 0)
      accepted = { ...up, raw, outbound: false, socketAddr, remoteAddress: remote }
    } catch (err) {
      raw.destroy()
      this.#refused(remote, peerId, this.#evictions.get(raw) ?? asError(err))
      return
    } finally {
      this.#pending.delete(raw)
      this.#handshaking.delete(raw)
    }
    if (this.#out === undefined) {
      // Nobody takes it any more (the owner stopped accepting while it upgraded).
      accepted.conn.destroy()
      raw.destroy()
      return
    }
    this.#out.next({ type: 'accepted', conn: accepted })
  }
}

function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
