/**
 * What a protocol stack under test provides to the bench worker: a way to turn a connected TCP socket into a
 * message pipe (dialer and listener side), and optionally a handshake to time on its own.
 *
 * A stack module (under `bench/stacks/`) default-exports a {@link Stack}. Workers load stacks lazily, so a
 * receiver only pays (in RSS and start-up) for the libraries of the stack it runs.
 *
 * @module
 */
import type * as net from 'node:net'

/** Bytes received: a `Uint8Array`, or a list of chunks (libp2p's `Uint8ArrayList`); `subarray()` copies out. */
export interface Received {
  readonly byteLength: number
  subarray (): Uint8Array
}

/** One established message pipe, the unit every workload drives. */
export interface Pipe {
  /**
   * Sends one message (raw TCP: one chunk). The pipe always takes it; `false` means "wait for
   * {@link writable} before the next write" (the stack's backpressure signal).
   */
  write (msg: Uint8Array): boolean
  /** Resolves when writing may go on after `write` returned false. */
  writable (): Promise<void>
  /** Sets the consumer of received messages (raw TCP: chunks). Called once, before any data flows. */
  onData (fn: (data: Received) => void): void
  /** Closes the pipe and its socket. */
  close (): void
}

/** Parameters a case passes to its stack (sizes, options); free-form JSON. */
export type StackParams = Record<string, unknown>

/** A protocol stack under test. */
export interface Stack {
  /** The dialer's side: `socket` is connected. */
  dial (socket: net.Socket, params: StackParams): Promise<Pipe>
  /** The listener's side: `socket` was accepted. */
  accept (socket: net.Socket, params: StackParams): Promise<Pipe>
  /**
   * Only the connection handshake (authentication, key agreement, and whatever the stack exchanges before
   * application data), for the handshake timing. Resolves with a function that closes the connection.
   */
  handshake? (socket: net.Socket, role: 'dialer' | 'listener', params: StackParams): Promise<() => void>
}
