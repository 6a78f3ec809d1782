/**
 * TCP: a `net.Socket` as a {@link DuplexConnection}, and a {@link Transport} that dials and listens on TCP.
 *
 * @module
 */
import * as net from 'node:net'
import { asyncScheduler, Subject, type SchedulerLike } from 'rxjs'
import { AbortError, TransportError } from '../errors.js'
import { DEFAULT_CONNECT_TIMEOUT_MS } from './defaults.js'
import { AbstractDuplex, type DuplexConnection, type HostPort } from './duplex.js'
import type { Listener, ListenOptions, Transport } from './transport.js'

/**
 * A connected `net.Socket` as a {@link DuplexConnection}.
 *
 * Nagle's algorithm is switched off: rx-p2p batches packets itself, so a write is a flush.
 *
 * @example
 * ```ts
 * const conn = new TcpConnection(net.connect(26656, '127.0.0.1'))
 * conn.source$.subscribe((chunk) => console.log(chunk.byteLength))
 * ```
 */
export class TcpConnection extends AbstractDuplex {
  readonly socket: net.Socket

  constructor (socket: net.Socket) {
    super()
    this.socket = socket
    socket.setNoDelay(true)
    if (socket.remoteAddress !== undefined && socket.remotePort !== undefined) {
      this.remoteAddress = { host: stripV4Mapped(socket.remoteAddress), port: socket.remotePort }
    }
    if (socket.localAddress !== undefined && socket.localPort !== undefined) {
      this.localAddress = { host: stripV4Mapped(socket.localAddress), port: socket.localPort }
    }
    socket.on('data', (chunk: Buffer) => { this.push(chunk) })
    socket.on('end', () => { this.pushEnd() })
    socket.on('drain', () => { this.emitDrain() })
    socket.on('error', (err) => { this.finalize(new TransportError(`socket error: ${err.message}`, { cause: err })) })
    socket.on('close', () => { this.finalize() })
    // Once both directions have ended, Node closes the socket (allowHalfOpen is false by default).
    // dial() and the listener (pauseOnConnect) hand the socket over paused; the base class starts out reading
    // and calls _readStop once bytes are held without a reader, so start the socket flowing here.
    socket.resume()
  }

  protected _write (chunk: Uint8Array): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false
    return this.socket.write(chunk)
  }

  protected _readStop (): void {
    this.socket.pause()
  }

  protected _readStart (): void {
    this.socket.resume()
  }

  protected _end (): void {
    this.socket.end()
  }

  protected _destroy (): void {
    this.socket.destroy()
  }
}

function ignoreError (): void {}

/**
 * Closes a socket refused at accept with a reset: nothing of ours waits in TIME_WAIT for it, and what it sent
 * is dropped unread. A socket already gone (its handle closed) is only destroyed.
 */
function refuseSocket (socket: net.Socket): void {
  try {
    socket.resetAndDestroy()
  } catch {
    socket.destroy()
  }
}

/** The parts of libuv's TCP handle (Node's internal `TCPWrap`) that a refusal at accept needs. */
interface AcceptedHandle {
  getpeername?: (out: { address?: string, port?: number }) => number
  reset?: (callback: () => void) => number
  close: (callback?: () => void) => void
}

/** A listening server's internal handle, whose `onconnection` Node calls with each accepted handle. */
interface ServerHandle {
  onconnection?: (this: ServerHandle, err: number, client: AcceptedHandle | undefined) => void
}

/**
 * Puts `gate` in front of Node's accept callback, so that a refused connection never becomes a `net.Socket`
 * (a Duplex with its two stream states, emitters and a destroy through the stream machinery: three quarters
 * of the user-space CPU a refusal cost, measured 24-30 µs against 4-5 µs this way). Node does the same for
 * `server.maxConnections` (its `drop` path: `getpeername` on the handle, then `close`). The handle is reset
 * (SO_LINGER 0) as `resetAndDestroy` would. Returns false, and changes nothing, when this Node's server has
 * no such internal callback: the caller then gates on the `connection` event instead.
 */
function gateAcceptedHandles (server: net.Server, gate: (remote: HostPort) => boolean): boolean {
  const handle = (server as unknown as { _handle?: ServerHandle | null })._handle
  const accept = handle?.onconnection
  if (handle == null || typeof accept !== 'function') return false
  handle.onconnection = function (err, client) {
    if (err === 0 && client !== undefined && typeof client.getpeername === 'function') {
      const peer: { address?: string, port?: number } = {}
      const failed = client.getpeername(peer) !== 0 || peer.address === undefined || peer.port === undefined
      if (failed || !gate({ host: stripV4Mapped(peer.address as string), port: peer.port as number })) {
        closeRefused(client)
        return
      }
    }
    accept.call(this, err, client)
  }
  return true
}

function closeRefused (client: AcceptedHandle): void {
  if (typeof client.reset === 'function' && client.reset(ignoreError) === 0) return
  client.close()
}

function stripV4Mapped (host: string): string {
  return host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host
}

/** Options of {@link TcpTransport}. */
export interface TcpTransportInit {
  /**
   * TCP connect timeout in milliseconds, on {@link TcpTransportInit.scheduler}. rx-p2p's dial timeout (the
   * Switch's `dialTimeoutMs`) sits above it.
   * @default 1000
   */
  connectTimeoutMs?: number
  /** Clock of the connect timeout. @default asyncScheduler */
  scheduler?: SchedulerLike
  /**
   * The local IP that dials leave from (`net.connect`'s `localAddress`): a node with several addresses, or a
   * test giving each peer its own 127.0.0.x. @default the system's choice
   */
  localAddress?: string
}

/**
 * Dials and listens on TCP.
 *
 * @example
 * ```ts
 * const tcp = new TcpTransport()
 * const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
 * listener.connections$.subscribe((conn) => conn.write(new TextEncoder().encode('hi')))
 * const conn = await tcp.dial(listener.address)
 * ```
 */
export class TcpTransport implements Transport {
  readonly #connectTimeoutMs: number
  readonly #scheduler: SchedulerLike
  readonly #localAddress: string | undefined

  constructor (init: TcpTransportInit = {}) {
    this.#connectTimeoutMs = init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    this.#scheduler = init.scheduler ?? asyncScheduler
    this.#localAddress = init.localAddress
  }

  dial (addr: HostPort, options: { signal?: AbortSignal } = {}): Promise<DuplexConnection> {
    return new Promise((resolve, reject) => {
      const { signal } = options
      if (signal?.aborted === true) {
        reject(new AbortError('dial aborted'))
        return
      }
      const socket = net.connect(this.#localAddress === undefined
        ? { host: addr.host, port: addr.port }
        : { host: addr.host, port: addr.port, localAddress: this.#localAddress })
      socket.pause()
      const fail = (err: Error): void => {
        cleanup()
        socket.destroy()
        reject(err)
      }
      const onError = (err: Error): void => { fail(new TransportError(`dial ${addr.host}:${addr.port}: ${err.message}`, { cause: err })) }
      const onAbort = (): void => { fail(new AbortError('dial aborted')) }
      const onConnect = (): void => {
        cleanup()
        resolve(new TcpConnection(socket))
      }
      const timer = this.#scheduler.schedule(() => { fail(new TransportError(`dial ${addr.host}:${addr.port}: connect timeout`)) }, this.#connectTimeoutMs)
      const cleanup = (): void => {
        timer.unsubscribe()
        socket.off('error', onError)
        socket.off('connect', onConnect)
        signal?.removeEventListener('abort', onAbort)
      }
      socket.once('error', onError)
      socket.once('connect', onConnect)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * Listens on `addr`. With a {@link ListenOptions.gate}, each accepted connection is asked about with its
   * remote address alone (one `getpeername` on the accepted handle, before Node makes a `net.Socket` of it); a
   * refused one is reset at once (SO_LINGER 0: no TIME_WAIT is left on our side, and the remote sees
   * ECONNRESET), before any socket object, {@link TcpConnection}, listener or buffer is made for it. The
   * listener is then {@link Listener.gated}.
   */
  listen (addr: HostPort, options: ListenOptions = {}): Promise<Listener> {
    const { gate } = options
    return new Promise((resolve, reject) => {
      const server = net.createServer({ pauseOnConnect: true })
      const connections = new Subject<DuplexConnection>()
      const acceptErrors = new Subject<Error>()
      // Set once listening: the gate sits in front of Node's accept callback when this Node has one (the
      // 'connection' handler then sees only connections that passed), else in the handler below.
      let gatedBeforeSocket = false
      server.on('connection', (socket) => {
        socket.on('error', ignoreError) // reported through the TcpConnection once wrapped
        if (gate !== undefined && !gatedBeforeSocket) {
          const host = socket.remoteAddress
          const port = socket.remotePort
          if (host === undefined || port === undefined || !gate({ host: stripV4Mapped(host), port })) {
            refuseSocket(socket)
            return
          }
        }
        connections.next(new TcpConnection(socket))
      })
      server.once('error', (err) => { reject(new TransportError(`listen ${addr.host}:${addr.port}: ${err.message}`, { cause: err })) })
      server.listen(addr.port, addr.host, () => {
        if (gate !== undefined) gatedBeforeSocket = gateAcceptedHandles(server, gate)
        const bound = server.address() as net.AddressInfo
        const listener: Listener = {
          address: { host: stripV4Mapped(bound.address), port: bound.port },
          connections$: connections.asObservable(),
          acceptErrors$: acceptErrors.asObservable(),
          gated: gate !== undefined,
          close: () => new Promise<void>((resolveClose) => {
            connections.complete()
            acceptErrors.complete()
            server.close(() => { resolveClose() })
          })
        }
        // Once listening, a server 'error' is a failed accept (EMFILE, ENFILE, ENOBUFS, ...): the server goes on
        // listening, and so do we. Ending connections$ here would stop the Switch accepting for good, silently.
        server.on('error', (err) => {
          const error = new TransportError(`accept on ${addr.host}:${bound.port}: ${err.message}`, { cause: err })
          if (server.listening) acceptErrors.next(error)
          else connections.error(error)
        })
        resolve(listener)
      })
    })
  }
}
