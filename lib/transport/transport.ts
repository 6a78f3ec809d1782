/**
 * What the Switch needs from a network: dial an address, listen for connections. TCP and the in-memory
 * network both implement it, and both run the same compliance suite.
 *
 * @module
 */
import type { Observable } from 'rxjs'
import type { DuplexConnection, HostPort } from './duplex.js'

/** A bound listener. */
export interface Listener {
  /** The address actually bound (port 0 is replaced by the port chosen). */
  readonly address: HostPort
  /**
   * Hot: each accepted connection, raw (not yet upgraded). Completes when the listener closes; errors only when
   * the listener itself failed and accepts no more.
   */
  readonly connections$: Observable<DuplexConnection>
  /**
   * Hot: failures to accept one connection that leave the listener accepting (out of file descriptors, the
   * kernel out of memory, ...). Optional: a listener that cannot fail this way need not have it.
   */
  readonly acceptErrors$?: Observable<Error>
  /**
   * True when this listener applies {@link ListenOptions.gate}: every connection on `connections$` passed it,
   * and it was asked once per accepted connection. Absent or false: the gate was not applied (a transport may
   * ignore it), and the owner must make every check on the connections it gets.
   */
  readonly gated?: boolean
  /** Stops accepting; connections already accepted stay open. */
  close (): Promise<void>
}

/** Options of {@link Transport.listen}. */
export interface ListenOptions {
  /**
   * Asked, with the remote end, about each accepted connection before anything is made for it (no
   * {@link DuplexConnection}, no listener, no buffer): `false` refuses it, and the listener closes it at once
   * and emits nothing for it (TCP resets it: no TIME_WAIT on our side, the remote sees ECONNRESET). `true`
   * lets it through, and the connection is on `connections$` synchronously, before the next accepted one is
   * asked about. Whoever passes a gate counts and reports its refusals; the listener only closes them. A
   * connection whose remote end is already unknown (reset by its peer before the accept was handled) is
   * closed without asking. Optional for a transport: one that applies it says so with {@link Listener.gated}.
   * @default every connection is emitted
   */
  gate?: (remote: HostPort) => boolean
}

/** A way to reach other nodes. */
export interface Transport {
  /** Opens a raw connection to `addr`. Rejects with a typed error (TransportError, AbortError). */
  dial (addr: HostPort, options?: { signal?: AbortSignal }): Promise<DuplexConnection>
  /** Listens on `addr` (port 0 picks a free port), with an optional admission {@link ListenOptions.gate}. */
  listen (addr: HostPort, options?: ListenOptions): Promise<Listener>
}
