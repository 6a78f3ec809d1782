import { expect } from 'chai'
import { spawn } from 'node:child_process'
import * as net from 'node:net'
import * as readline from 'node:readline'
import { firstValueFrom, VirtualTimeScheduler } from 'rxjs'
import { TransportError } from '../../lib/errors.js'
import { TcpTransport } from '../../lib/transport/tcp.js'
import { duplexCompliance } from '../../lib/testing/compliance.js'

duplexCompliance('TCP (127.0.0.1)', async () => {
  const tcp = new TcpTransport()
  const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
  const accepted = firstValueFrom(listener.connections$)
  const a = await tcp.dial(listener.address)
  const b = await accepted
  return { a, b, close: async () => { await listener.close() } }
})

describe('transport/TcpTransport', () => {
  it('reports both ends’ addresses and refuses a dial to a closed port with TransportError', async () => {
    const tcp = new TcpTransport()
    const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
    const accepted = firstValueFrom(listener.connections$)
    const a = await tcp.dial(listener.address)
    const b = await accepted
    expect(a.remoteAddress).to.deep.equal(listener.address)
    expect(b.remoteAddress).to.deep.equal(a.localAddress)
    a.destroy()
    b.destroy()
    await listener.close()
    let err: unknown
    try { await tcp.dial(listener.address) } catch (e) { err = e }
    expect(err).to.be.instanceOf(TransportError)
  })

  it('times the connect on its scheduler: a deadline that passes first fails the dial, one that does not is cancelled', async () => {
    const scheduler = new VirtualTimeScheduler()
    const tcp = new TcpTransport({ scheduler, connectTimeoutMs: 500 })
    const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
    const accepted = firstValueFrom(listener.connections$)
    // The deadline passes (virtual time) before the socket could connect: a TransportError, the socket gone.
    const late = tcp.dial(listener.address)
    late.catch(() => {})
    scheduler.flush()
    let err: unknown
    try { await late } catch (e) { err = e }
    expect(err).to.be.instanceOf(TransportError)
    expect((err as Error).message).to.match(/connect timeout/)
    expect(scheduler.now()).to.equal(500)
    // Connected in time: the deadline is cancelled, nothing is left on the clock.
    const conn = await tcp.dial(listener.address)
    expect(scheduler.actions).to.have.length(0)
    ;(await accepted).destroy()
    conn.destroy()
    await listener.close()
  })
})

/** A raw socket from `localAddress` to `port`; resolves with the error code it ended with ('' for a clean close). */
function connectFrom (localAddress: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress })
    let code = ''
    s.on('error', (err: NodeJS.ErrnoException) => { code = err.code ?? err.message })
    s.on('close', () => { resolve(code) })
    s.setTimeout(10_000, () => { s.destroy(); reject(new Error('the listener neither accepted nor closed the connection')) })
    s.resume()
  })
}

describe('transport/TcpTransport with a gate', () => {
  it('refuses by remote address before a connection exists: the refused dialer is reset and nothing is emitted; one let through arrives with the address the gate saw', async () => {
    const asked: Array<{ host: string, port: number }> = []
    const tcp = new TcpTransport()
    const listener = await tcp.listen({ host: '127.0.0.1', port: 0 }, { gate: (remote) => { asked.push(remote); return remote.host !== '127.0.7.1' } })
    expect(listener.gated).to.equal(true)
    const emitted: Array<{ host: string, port: number } | undefined> = []
    const sub = listener.connections$.subscribe((conn) => { emitted.push(conn.remoteAddress) })
    // A reset, not a FIN: no TIME_WAIT is left on our side for a refused connection.
    expect(await connectFrom('127.0.7.1', listener.address.port)).to.equal('ECONNRESET')
    expect(await connectFrom('127.0.7.1', listener.address.port)).to.equal('ECONNRESET')
    expect(emitted).to.deep.equal([])
    const conn = await new TcpTransport({ localAddress: '127.0.7.2' }).dial(listener.address)
    await sleep(50)
    expect(emitted).to.have.length(1)
    expect(emitted[0]).to.deep.equal(conn.localAddress)
    expect(asked.map((a) => a.host)).to.deep.equal(['127.0.7.1', '127.0.7.1', '127.0.7.2'])
    expect(asked[2]).to.deep.equal(conn.localAddress)
    conn.destroy()
    sub.unsubscribe()
    await listener.close()
  })

  it('asks once per accepted connection, before Node makes a net.Socket of it (a refusal makes none)', async () => {
    let asked = 0
    let socketsReset = 0
    const resetAndDestroy = net.Socket.prototype.resetAndDestroy
    net.Socket.prototype.resetAndDestroy = function (this: net.Socket) { socketsReset++; return resetAndDestroy.call(this) }
    try {
      const listener = await new TcpTransport().listen({ host: '127.0.0.1', port: 0 }, { gate: () => { asked++; return asked > 5 } })
      const accepted: Array<{ destroy: () => void }> = []
      const sub = listener.connections$.subscribe((conn) => { accepted.push(conn) })
      for (let i = 0; i < 5; i++) expect(await connectFrom('127.0.7.3', listener.address.port)).to.equal('ECONNRESET')
      const conn = await new TcpTransport().dial(listener.address)
      await sleep(50)
      // The fast path: refused handles are reset by the listener itself (a fallback on the 'connection' event
      // would have made a net.Socket of each and reset it with resetAndDestroy).
      expect(socketsReset).to.equal(0)
      expect(asked).to.equal(6)
      expect(accepted).to.have.length(1)
      conn.destroy()
      for (const c of accepted) c.destroy()
      sub.unsubscribe()
      await listener.close()
    } finally {
      net.Socket.prototype.resetAndDestroy = resetAndDestroy
    }
  })

  it('is not gated without a gate: every connection is emitted', async () => {
    const listener = await new TcpTransport().listen({ host: '127.0.0.1', port: 0 })
    expect(listener.gated).to.equal(false)
    const accepted = firstValueFrom(listener.connections$)
    const conn = await new TcpTransport({ localAddress: '127.0.7.1' }).dial(listener.address)
    expect((await accepted).remoteAddress).to.deep.equal(conn.localAddress)
    conn.destroy()
    ;(await accepted).destroy()
    await listener.close()
  })
})

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** One child of fixtures/emfile-listener.ts with its JSON lines as a queue. */
class EmfileChild {
  readonly #proc = spawn('sh', ['-c', 'ulimit -n 128 && exec "$@"', 'sh', process.execPath, '--import', 'tsx', new URL('./fixtures/emfile-listener.ts', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] })
  readonly #lines: Array<Record<string, unknown>> = []
  #wake: (() => void) | undefined

  constructor () {
    readline.createInterface({ input: this.#proc.stdout }).on('line', (line) => {
      this.#lines.push(JSON.parse(line) as Record<string, unknown>)
      this.#wake?.()
    })
  }

  /** The next line with `ev` (lines before it are skipped and returned too). */
  async next (ev: string, timeoutMs = 20_000): Promise<{ line: Record<string, unknown>, skipped: Array<Record<string, unknown>> }> {
    const skipped: Array<Record<string, unknown>> = []
    const until = Date.now() + timeoutMs
    for (;;) {
      const line = this.#lines.shift()
      if (line !== undefined) {
        if (line.ev === ev) return { line, skipped }
        skipped.push(line)
        continue
      }
      if (Date.now() > until) throw new Error(`no '${ev}' from the child within ${timeoutMs} ms (saw ${JSON.stringify(skipped)})`)
      await new Promise<void>((resolve) => {
        this.#wake = resolve
        setTimeout(resolve, 100)
      })
    }
  }

  command (cmd: string): void { this.#proc.stdin.write(cmd + '\n') }

  async exit (): Promise<void> {
    const exited = new Promise((resolve) => this.#proc.once('exit', resolve))
    this.#proc.stdin.end()
    await exited
  }
}

/** Connects to 127.0.0.1:port and resolves once the other side has closed (or reset) the connection. */
function connectUntilClosed (port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    s.on('error', () => { s.destroy() })
    s.on('close', () => { resolve() })
    s.setTimeout(10_000, () => { s.destroy(); reject(new Error('the listener neither accepted nor closed the connection')) })
    s.resume()
  })
}

describe('transport/TcpTransport when the process runs out of file descriptors', function () {
  this.timeout(60_000)

  it('does not stall or die while it has none (libuv closes such connections at once) and accepts again once some are free', async () => {
    const child = new EmfileChild()
    try {
      const port = Number((await child.next('listening')).line.port)
      child.command('fill')
      expect(Number((await child.next('filled')).line.held)).to.be.greaterThan(0)
      // Out of descriptors: the connection is closed from the other side, not left hanging. (Node 20 never
      // accepts it; on Node 24 the module loader (tsx) sometimes closes a file of its own meanwhile, and the
      // child accepts into that descriptor.)
      await connectUntilClosed(port)
      await connectUntilClosed(port)
      child.command('free')
      const { skipped } = await child.next('freed')
      expect(skipped.filter((l) => l.ev !== 'accepted'), 'the listener is still up').to.deep.equal([])
      await connectUntilClosed(port)
      const { line: accepted, skipped: between } = await child.next('accepted')
      expect(accepted.ev).to.equal('accepted')
      expect(between.filter((l) => l.ev === 'listenerError' || l.ev === 'listenerClosed')).to.deep.equal([])
    } finally {
      await child.exit()
    }
  })
})
