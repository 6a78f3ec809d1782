/**
 * The Switch's ban list: node IDs and IPs refused for a while, at accept and at dial. CometBFT keeps bans only
 * in the PEX address book, which stops PEX from dialing a banned address but lets the banned peer connect to
 * us again at once; here the Switch holds them.
 *
 * @module
 */
import { isIP } from 'node:net'
import { asyncScheduler, type SchedulerLike } from 'rxjs'
import { InvalidAddressError } from '../errors.js'
import { type NodeId, parseNodeId } from '../crypto/node-id.js'
import { NetAddress } from '../transport/net-address.js'
import { DEFAULT_MAX_BANS } from './defaults.js'
import type { Peer } from './peer.js'

/**
 * What a ban applies to:
 * - `'all'`: refused at accept and at dial (a peer that broke a rule);
 * - `'dial'`: only not dialed (an address that failed too often: it may well be honest, and welcome when it
 *   calls us).
 */
export type BanScope = 'all' | 'dial'

/** What can be banned: a peer or node ID (its ID), an address (its ID, or its IP when it has no ID), an IP. */
export type BanTarget = Peer | NodeId | NetAddress | string

/** One ban, as {@link rx-p2p!Switch.bans} lists them. */
export interface BanEntry {
  /** `'id'` for a node ID, `'ip'` for an IP. */
  readonly kind: 'id' | 'ip'
  /** The node ID or the IP. */
  readonly key: string
  /** When the ban ends, on the scheduler's clock (ms). */
  readonly until: number
  /** Where it applies. */
  readonly scope: BanScope
  /** Why, for logs. */
  readonly reason: string
}

/** Options of {@link BanList}. */
export interface BanListInit {
  /** Bans held at once; past it the ban that ends soonest is dropped. @default 10000 */
  maxBans?: number
  /** The clock. @default asyncScheduler */
  scheduler?: SchedulerLike
}

/**
 * Bans by node ID and by IP, each until a time on the scheduler's clock. A ban of a key already banned keeps
 * the later end and the wider scope. Expired bans are dropped when looked at.
 *
 * @example
 * ```ts
 * const bans = new BanList({ scheduler })
 * bans.ban(peer, 24 * 3600_000, 'PEX violation')
 * bans.ban('203.0.113.7', 600_000, 'handshake flood')
 * bans.isBanned('203.0.113.7')  // true for 10 minutes
 * ```
 */
export class BanList {
  /** Bans held at once. */
  readonly maxBans: number
  readonly #scheduler: SchedulerLike
  readonly #bans = new Map<string, BanEntry>()

  constructor (init: BanListInit = {}) {
    this.maxBans = Math.max(1, init.maxBans ?? DEFAULT_MAX_BANS)
    this.#scheduler = init.scheduler ?? asyncScheduler
  }

  /** Bans held now (expired ones not yet dropped included). */
  get size (): number {
    return this.#bans.size
  }

  /**
   * Bans `target` for `durationMs` (a duration of 0 or less lifts nothing and bans nothing).
   *
   * @returns the entry held for it
   * @throws {InvalidAddressError} a string that is neither a node ID nor an IP
   */
  ban (target: BanTarget, durationMs: number, reason = 'banned', scope: BanScope = 'all'): BanEntry | undefined {
    const { kind, key } = banKey(target)
    if (!(durationMs > 0)) return undefined
    const now = this.#scheduler.now()
    const k = `${kind}:${key}`
    const old = this.#live(k, now)
    const until = Math.max(now + durationMs, old?.until ?? 0)
    const entry: BanEntry = { kind, key, until, scope: old?.scope === 'all' ? 'all' : scope, reason }
    this.#bans.delete(k)
    if (this.#bans.size >= this.maxBans) this.#dropSoonest(now)
    this.#bans.set(k, entry)
    return entry
  }

  /** Lifts the ban of `target`; false when there was none. */
  unban (target: BanTarget): boolean {
    const { kind, key } = banKey(target)
    return this.#bans.delete(`${kind}:${key}`)
  }

  /** The live ban of this node ID, if any, that applies at accept (`'all'`) or at dial (any scope). */
  idBan (id: NodeId, at: 'accept' | 'dial'): BanEntry | undefined {
    return applies(this.#live(`id:${id}`, this.#scheduler.now()), at)
  }

  /** The live ban of this IP, if any, that applies at accept (`'all'`) or at dial (any scope). */
  ipBan (ip: string, at: 'accept' | 'dial'): BanEntry | undefined {
    return applies(this.#live(`ip:${ip}`, this.#scheduler.now()), at)
  }

  /**
   * True when `target` is banned now at `at` (default `'accept'`): its ID, or for an address with an IP its
   * IP as well, or the IP itself.
   */
  isBanned (target: BanTarget, at: 'accept' | 'dial' = 'accept'): boolean {
    if (target instanceof NetAddress) {
      return (target.id !== '' && this.idBan(target.id, at) !== undefined) || this.ipBan(target.host, at) !== undefined
    }
    const { kind, key } = banKey(target)
    return kind === 'id' ? this.idBan(key, at) !== undefined : this.ipBan(key, at) !== undefined
  }

  /** Every live ban, in the order they were made. */
  list (): BanEntry[] {
    const now = this.#scheduler.now()
    const out: BanEntry[] = []
    for (const [k, entry] of this.#bans) {
      if (entry.until > now) out.push(entry)
      else this.#bans.delete(k)
    }
    return out
  }

  #live (k: string, now: number): BanEntry | undefined {
    const entry = this.#bans.get(k)
    if (entry === undefined) return undefined
    if (entry.until > now) return entry
    this.#bans.delete(k)
    return undefined
  }

  #dropSoonest (now: number): void {
    let soonest: string | undefined
    let until = Infinity
    for (const [k, entry] of this.#bans) {
      if (entry.until <= now) {
        this.#bans.delete(k)
        continue
      }
      if (entry.until < until) {
        until = entry.until
        soonest = k
      }
    }
    if (this.#bans.size >= this.maxBans && soonest !== undefined) this.#bans.delete(soonest)
  }
}

function applies (entry: BanEntry | undefined, at: 'accept' | 'dial'): BanEntry | undefined {
  if (entry === undefined) return undefined
  return at === 'dial' || entry.scope === 'all' ? entry : undefined
}

/** What a ban target is keyed by: a node ID, or an IP. @throws {InvalidAddressError} */
function banKey (target: BanTarget): { kind: 'id' | 'ip', key: string } {
  if (target instanceof NetAddress) return target.id !== '' ? { kind: 'id', key: target.id } : { kind: 'ip', key: target.host }
  if (typeof target !== 'string') return { kind: 'id', key: target.id }
  if (isIP(target) !== 0) return { kind: 'ip', key: target }
  if (target.includes('@')) return banKey(NetAddress.parse(target))
  try {
    return { kind: 'id', key: parseNodeId(target) }
  } catch (err) {
    throw new InvalidAddressError(`cannot ban ${JSON.stringify(target)}: neither a node ID, an id@host:port address nor an IP`, { cause: err })
  }
}
