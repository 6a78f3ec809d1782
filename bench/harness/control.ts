/**
 * The control channel between the orchestrator and a bench worker: newline-delimited JSON over file
 * descriptor 3 of the worker. Any program can be a worker (a Go peer under `bench/go/` opens fd 3 with
 * `os.NewFile(3, "ctl")`); the protocol is in `protocol.ts`.
 *
 * @module
 */
import * as net from 'node:net'

/** A JSON object sent over the control channel. */
export type ControlMessage = Record<string, unknown> & { op?: string, ev?: string }

/** Newline-delimited JSON over a socket, with a queue of unread messages and typed waits. */
export class ControlChannel {
  readonly #socket: net.Socket
  #buf = ''
  readonly #queue: ControlMessage[] = []
  #waiters: Array<{ match: (m: ControlMessage) => boolean, resolve: (m: ControlMessage) => void, reject: (e: Error) => void }> = []
  #handler: ((m: ControlMessage) => void) | undefined
  #onClose: (() => void) | undefined
  #closedError: Error | undefined

  constructor (socket: net.Socket) {
    this.#socket = socket
    socket.setEncoding('utf8')
    socket.on('data', (s: string) => { this.#onData(s) })
    socket.on('error', (err) => { this.#fail(err) })
    socket.on('end', () => { this.#fail(new Error('control channel ended')) })
    socket.on('close', () => { this.#fail(new Error('control channel closed')) })
  }

  /** The worker side: fd 3 of this process. */
  static fromFd (fd = 3): ControlChannel {
    return new ControlChannel(new net.Socket({ fd, readable: true, writable: true }))
  }

  /** Sends one message. */
  send (msg: ControlMessage): void {
    if (this.#socket.destroyed) return
    this.#socket.write(JSON.stringify(msg) + '\n')
  }

  /** Delivers every message to `handler` instead of queueing (worker side). */
  onMessage (handler: (m: ControlMessage) => void): void {
    this.#handler = handler
    while (this.#queue.length > 0) handler(this.#queue.shift()!)
  }

  /** Calls `fn` once when the channel closes or fails (a worker exits when its orchestrator is gone). */
  onClose (fn: () => void): void {
    this.#onClose = fn
    if (this.#closedError !== undefined) fn()
  }

  /** Resolves with the next message whose `ev` is `ev` (or that has `ev: 'error'`, which rejects). */
  next (ev: string, timeoutMs = 120_000): Promise<ControlMessage> {
    return new Promise((resolve, reject) => {
      const match = (m: ControlMessage): boolean => m.ev === ev || m.ev === 'error'
      const done = (m: ControlMessage): void => {
        clearTimeout(timer)
        if (m.ev === 'error') reject(new Error(`worker error: ${String(m.message)}`))
        else resolve(m)
      }
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for '${ev}'`))
      }, timeoutMs)
      const i = this.#queue.findIndex(match)
      if (i >= 0) {
        done(this.#queue.splice(i, 1)[0]!)
        return
      }
      if (this.#closedError !== undefined) {
        clearTimeout(timer)
        reject(this.#closedError)
        return
      }
      this.#waiters.push({ match, resolve: done, reject: (e) => { clearTimeout(timer); reject(e) } })
    })
  }

  /** Sends `msg` and waits for the reply event `ev`. */
  async request (msg: ControlMessage, ev: string, timeoutMs?: number): Promise<ControlMessage> {
    this.send(msg)
    return await this.next(ev, timeoutMs)
  }

  close (): void {
    this.#socket.end()
    this.#socket.destroy()
  }

  /** Lets the process exit while the channel is open (worker side keeps it referenced). */
  unref (): void {
    this.#socket.unref()
  }

  #onData (s: string): void {
    this.#buf += s
    let nl: number
    while ((nl = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, nl)
      this.#buf = this.#buf.slice(nl + 1)
      if (line.trim() === '') continue
      let msg: ControlMessage
      try {
        msg = JSON.parse(line) as ControlMessage
      } catch {
        continue
      }
      this.#dispatch(msg)
    }
  }

  #dispatch (msg: ControlMessage): void {
    if (this.#handler !== undefined) {
      this.#handler(msg)
      return
    }
    const i = this.#waiters.findIndex((w) => w.match(msg))
    if (i >= 0) {
      const w = this.#waiters.splice(i, 1)[0]!
      w.resolve(msg)
      return
    }
    this.#queue.push(msg)
  }

  #fail (err: Error): void {
    if (this.#closedError !== undefined) return
    this.#closedError = err
    this.#onClose?.()
    const ws = this.#waiters
    this.#waiters = []
    for (const w of ws) w.reject(err)
  }
}

/** Options of {@link serveControl}. */
export interface ServeOptions {
  /** Traces every op and its reply on stderr, prefixed with `name` (default: no tracing). */
  trace?: string | undefined
}

/**
 * The worker side's message loop: answers every message on `ctl` with what `handle` resolves to (nothing when
 * it resolves to `undefined`) or with `{ev: 'error'}` when it throws, exits when the channel closes, and
 * reports uncaught exceptions and unhandled rejections as `{ev: 'error'}`.
 */
export function serveControl (ctl: ControlChannel, handle: (msg: ControlMessage) => Promise<ControlMessage | undefined>, options: ServeOptions = {}): void {
  const name = options.trace
  const at = (): string => `${(performance.now() / 1000).toFixed(1)} s`
  ctl.onMessage((msg) => {
    if (name !== undefined) process.stderr.write(`${name}: op ${String(msg.op)} at ${at()}\n`)
    handle(msg).then((reply) => {
      if (name !== undefined) process.stderr.write(`${name}: reply ${String(reply?.ev)} to ${String(msg.op)} at ${at()}\n`)
      if (reply !== undefined) ctl.send(reply)
    }, (err: Error) => {
      ctl.send({ ev: 'error', message: err.stack ?? err.message })
    })
  })
  ctl.onClose(() => { process.exit(0) })
  process.on('uncaughtException', (err) => { ctl.send({ ev: 'error', message: `uncaught: ${err.stack ?? err.message}` }) })
  process.on('unhandledRejection', (err) => { ctl.send({ ev: 'error', message: `unhandled rejection: ${String(err)}` }) })
}
