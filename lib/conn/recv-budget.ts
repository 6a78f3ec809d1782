/**
 * `RecvBudget`: how many bytes of partial messages (reassembly buffers) a connection, or a whole node, may hold.
 *
 * Every MConnection has a budget of its own (`MConnectionInit.connRecvBudget`) whose parent is the node's
 * budget, shared by every peer of a Switch (`SwitchInit.recvBudget`). A channel takes bytes from its
 * connection's budget when its reassembly buffer grows and gives them back when the buffer is handed on or
 * dropped; a take that would pass the connection's limit throws {@link RecvBudgetExceededError} (`'connection'`)
 * and the connection stops. When the node's limit would be passed, the connection holding the most is stopped to
 * make room (`'node'`), or the one asking, when it would hold the most itself: an attacker that fills the node's
 * budget loses its connections before an honest peer with one block part in flight does.
 *
 * @module
 */
import { RecvBudgetExceededError } from '../errors.js'

/** Options of {@link RecvBudget}. */
export interface RecvBudgetInit {
  /** Bytes the budget holds at most (a positive integer, or Infinity). */
  limit: number
  /** The name {@link RecvBudgetExceededError} gives this budget. @default 'node' */
  kind?: 'connection' | 'node'
  /** A budget every take of this one also draws on (a connection's parent is its node's budget). @default none */
  parent?: RecvBudget
  /**
   * Called when the parent has to make room and this budget holds the most: stop the owner (which gives every
   * byte back through {@link RecvBudget.close}). @default none: this budget is never chosen to make room
   */
  onEvict?: (reason: RecvBudgetExceededError) => void
}

/**
 * A byte budget for partial messages, optionally drawing on a parent budget shared with others.
 *
 * @example
 * ```ts
 * const node = new RecvBudget({ limit: 192 * 1024 * 1024 })
 * const sw = new Switch({ nodeKey, mconnection: { recvBudget: node } })   // or SwitchInit.recvBudget: bytes
 * console.log(node.used)                                                   // bytes of partial messages held now
 * ```
 */
export class RecvBudget {
  /** Bytes the budget holds at most. */
  readonly limit: number
  /** Which budget this is. */
  readonly kind: 'connection' | 'node'
  /** Bytes held now. */
  used = 0
  readonly #parent: RecvBudget | undefined
  readonly #children = new Set<RecvBudget>()
  readonly #onEvict: ((reason: RecvBudgetExceededError) => void) | undefined
  #closed = false

  /** @throws {RangeError} `limit` is not a positive integer or Infinity */
  constructor (init: RecvBudgetInit) {
    if (!(init.limit === Infinity || (Number.isInteger(init.limit) && init.limit > 0))) {
      throw new RangeError(`a receive budget must be a positive integer, got ${init.limit}`)
    }
    this.limit = init.limit
    this.kind = init.kind ?? 'node'
    this.#parent = init.parent
    this.#onEvict = init.onEvict
    if (this.#parent !== undefined) this.#parent.#children.add(this)
  }

  /** Budgets drawing on this one (one per open connection, for a node's budget). */
  get children (): number {
    return this.#children.size
  }

  /**
   * Takes `n` bytes from this budget and its parent.
   *
   * @throws {RecvBudgetExceededError} this budget, or the parent after making what room it could, is full
   */
  take (n: number): void {
    if (this.used + n > this.limit) throw new RecvBudgetExceededError(this.kind, n, this.used, this.limit)
    const parent = this.#parent
    if (parent !== undefined && !this.#closed) parent.#takeFor(this, n)
    this.used += n
  }

  /** Gives `n` bytes back (to the parent as well). */
  give (n: number): void {
    this.used -= n
    const parent = this.#parent
    if (parent !== undefined && !this.#closed) parent.used -= n
  }

  /** Gives back every byte held and leaves the parent: the connection is gone. Idempotent. */
  close (): void {
    if (this.#closed) return
    const parent = this.#parent
    if (parent !== undefined) {
      parent.used -= this.used
      parent.#children.delete(this)
    }
    this.#closed = true
  }

  /** Takes `n` bytes for `child`, stopping the largest other holders while that makes room. */
  #takeFor (child: RecvBudget, n: number): void {
    const tried = new Set<RecvBudget>()
    while (this.used + n > this.limit) {
      let victim: RecvBudget | undefined
      for (const c of this.#children) {
        if (c !== child && !tried.has(c) && c.#onEvict !== undefined && (victim === undefined || c.used > victim.used)) victim = c
      }
      if (victim === undefined || victim.used <= child.used + n) {
        throw new RecvBudgetExceededError(this.kind, n, this.used, this.limit)
      }
      tried.add(victim)
      victim.#onEvict!(new RecvBudgetExceededError(this.kind, n, this.used, this.limit))
      victim.close() // in case the owner did not: its bytes no longer count against us
    }
    if (this.#parent !== undefined && !this.#closed) this.#parent.#takeFor(this, n)
    this.used += n
  }
}
