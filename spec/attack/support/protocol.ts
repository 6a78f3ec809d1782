/** What the attack harness and the node under attack (target-node.ts) share. */

/** The echo channel: every message is answered with `actions.send` of {@link echoReply}. */
export const ECHO_CHANNEL = 0x70
/** A channel with the default 21 MiB receive capacity, counting what it receives. */
export const BULK_CHANNEL = 0x71
/** The network (chain ID) of the target and the honest peers. */
export const NETWORK = 'rx-p2p-attack'

/** How the test starts the target. */
export interface TargetConfig {
  /** The IP the target listens on. @default '127.0.0.1' */
  host?: string
  /** SwitchInit fields (JSON) spread into the target's SwitchInit. */
  switchInit?: Record<string, unknown>
  /** Size of each echo answer; the request's bytes come first. @default the request's size */
  echoReplyBytes?: number
  /** Send queue capacity of the echo channel. @default 10 */
  echoQueueCapacity?: number
  /** Run PEX with an address book. @default false */
  pex?: boolean
  /** The address book's file (with `pex`). @default none: the book lives in memory */
  addrBookFile?: string
  /** AddrBookLimits fields (JSON) for the target's address book (with `pex`). @default the book's defaults (non-strict) */
  bookLimits?: Record<string, unknown>
  /** `addr_book_strict` of the target's book (with `pex`): true applies the public-network rules and bounds. @default false */
  addrBookStrict?: boolean
  /** PexReactorInit fields (JSON) for the target's PEX reactor. */
  pexInit?: Record<string, unknown>
  /** Extra node flags, e.g. ['--expose-gc']. */
  execArgv?: string[]
}

/** What the target reports of itself. */
export interface TargetStats {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
  /** CPU time (user + system) since the target started, in µs. */
  cpuUs: number
  peers: number
  inbound: number
  outbound: number
  /** Peer events by type. */
  events: Record<string, number>
  /** Rejections by `reason` (or error name). */
  rejected: Record<string, number>
  /** Peers removed, by the name of the error that stopped them ('none': stopped without one). */
  removedBy: Record<string, number>
  /** Bytes of partial messages the node's receive budget holds now (`Switch.recvBudget.used`). */
  recvBudgetUsed: number
  /** What the bulk channel received. */
  bulk: { messages: number, bytes: number }
  /** Entries in the address book (with `pex`). */
  bookSize: number | undefined
}

/** The echo answer to `request`: its bytes, padded with zeros to `size`. */
export function echoReply (request: Uint8Array, size: number | undefined): Uint8Array {
  if (size === undefined || size <= request.byteLength) return request.slice()
  const out = new Uint8Array(size)
  out.set(request, 0)
  return out
}

/** What the target's `sendMany` op sends: the node's own sends, as an application would make them. */
export interface SendManyRequest {
  /** `peer.send` to one peer, or `sw.broadcast` (waiting for room) to every peer. */
  via: 'send' | 'broadcast'
  /** The peer's ID (with `via: 'send'`). */
  to?: string
  chId: number
  count: number
  size: number
}
