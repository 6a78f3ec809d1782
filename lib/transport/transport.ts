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
  /** Stops accepting; connections already accepted stay open. */
  close (): Promise<void>
}

/** A way to reach other nodes. */
export interface Transport {
  /** Opens a raw connection to `addr`. Rejects with a typed error (TransportError, AbortError). */
  dial (addr: HostPort, options?: { signal?: AbortSignal }): Promise<DuplexConnection>
  /** Listens on `addr` (port 0 picks a free port). */
  listen (addr: HostPort): Promise<Listener>
}
