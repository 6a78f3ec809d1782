/**
 * A bench worker process: one end of a connection under test, driven by the orchestrator over the control
 * channel (fd 3). The same worker plays the sender (dialer) or the receiver (listener); see `protocol.ts` for
 * the messages. Times are `process.hrtime` microseconds, a monotonic clock shared by all processes of the
 * machine, so the orchestrator can subtract a receiver's time from a sender's.
 *
 * @module
 */
import './polyfill.js'
import * as net from 'node:net'
import { ControlChannel, serveControl, type ControlMessage } from './control.js'
import type { Pipe, Received, Stack, StackParams } from './stack.js'
import { loadStack } from '../stacks/index.js'

const ctl = ControlChannel.fromFd(3)

function nowUs (): number {
  return Number(process.hrtime.bigint() / 1000n)
}

// ---- the receiving end of whatever pipe this worker holds ---------------------------------------
type SinkMode =
  | { kind: 'idle' }
  | { kind: 'count', target: number, got: number }
  | { kind: 'echo', size: number, got: number, reply: Uint8Array }
  | { kind: 'pong', size: number, got: number, resolve: () => void }

let mode: SinkMode = { kind: 'idle' }
let pipe: Pipe | undefined
let totalReceived = 0

function sink (d: Received): void {
  const n = d.byteLength
  totalReceived += n
  const m = mode
  switch (m.kind) {
    case 'count':
      m.got += n
      if (m.got >= m.target) {
        const t = nowUs()
        mode = { kind: 'idle' }
        ctl.send({ ev: 'received', t, bytes: m.got })
      }
      break
    case 'echo':
      m.got += n
      while (m.got >= m.size) {
        m.got -= m.size
        pipe!.write(m.reply)
      }
      break
    case 'pong':
      m.got += n
      if (m.got >= m.size) {
        m.got -= m.size
        m.resolve()
      }
      break
    default:
      break
  }
}

function fill (size: number): Uint8Array {
  const b = Buffer.allocUnsafe(size)
  let x = 0x9e3779b9
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    b[i] = x & 0xff
  }
  return b
}

function connect (port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port })
    s.once('connect', () => { s.off('error', reject); resolve(s) })
    s.once('error', reject)
  })
}

async function sendBytes (bytes: number, size: number): Promise<ControlMessage> {
  const p = pipe!
  const msg = fill(size)
  const n = Math.ceil(bytes / size)
  const t0 = nowUs()
  for (let i = 0; i < n; i++) {
    if (!p.write(msg)) await p.writable()
  }
  return { ev: 'sent', t0, t1: nowUs(), bytes: n * size }
}

async function pingPong (size: number, warmup: number, count: number): Promise<ControlMessage> {
  const p = pipe!
  const msg = fill(size)
  const rtts: number[] = []
  for (let i = 0; i < warmup + count; i++) {
    const t0 = process.hrtime.bigint()
    await new Promise<void>((resolve) => {
      mode = { kind: 'pong', size, got: 0, resolve }
      if (!p.write(msg)) void p.writable()
    })
    const dt = Number(process.hrtime.bigint() - t0) / 1000
    if (i >= warmup) rtts.push(dt)
  }
  mode = { kind: 'idle' }
  return { ev: 'rtts', rtts }
}

async function handshakes (stack: Stack, params: StackParams, port: number, warmup: number, count: number): Promise<ControlMessage> {
  if (stack.handshake === undefined) throw new Error('this stack has no handshake to time')
  const times: number[] = []
  for (let i = 0; i < warmup + count; i++) {
    const socket = await connect(port)
    const t0 = process.hrtime.bigint()
    const close = await stack.handshake(socket, 'dialer', params)
    const dt = Number(process.hrtime.bigint() - t0) / 1000
    close()
    if (i >= warmup) times.push(dt)
  }
  return { ev: 'handshakes', times }
}

async function listen (stack: Stack, params: StackParams, handshakeOnly: boolean): Promise<ControlMessage> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    if (handshakeOnly) {
      stack.handshake!(socket, 'listener', params).then((close) => {
        socket.once('close', close)
      }, () => { socket.destroy() })
      return
    }
    if (pipe !== undefined) {
      socket.destroy()
      return
    }
    stack.accept(socket, params).then((p) => {
      pipe = p
      p.onData(sink)
      ctl.send({ ev: 'accepted' })
    }, (err: Error) => { ctl.send({ ev: 'error', message: `accept: ${err.stack ?? err.message}` }) })
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  return { ev: 'listening', port: (server.address() as net.AddressInfo).port }
}

let stackPromise: Promise<Stack> | undefined

async function handle (msg: ControlMessage): Promise<ControlMessage | undefined> {
  const params = (msg.params ?? {}) as StackParams
  switch (msg.op) {
    case 'load':
      stackPromise = loadStack(String(msg.stack))
      await stackPromise
      return { ev: 'loaded' }
    case 'listen':
      return await listen(await stackPromise!, params, msg.handshakeOnly === true)
    case 'dial': {
      const socket = await connect(Number(msg.port))
      const t0 = nowUs()
      pipe = await (await stackPromise!).dial(socket, params)
      pipe.onData(sink)
      return { ev: 'ready', setupUs: nowUs() - t0 }
    }
    case 'expect':
      mode = { kind: 'count', target: Number(msg.bytes), got: 0 }
      return { ev: 'armed' }
    case 'send':
      return await sendBytes(Number(msg.bytes), Number(msg.size))
    case 'echo':
      mode = { kind: 'echo', size: Number(msg.size), got: 0, reply: fill(Number(msg.size)) }
      return { ev: 'ok' }
    case 'idle':
      mode = { kind: 'idle' }
      return { ev: 'ok' }
    case 'ping':
      return await pingPong(Number(msg.size), Number(msg.warmup), Number(msg.count))
    case 'handshakes':
      return await handshakes(await stackPromise!, params, Number(msg.port), Number(msg.warmup), Number(msg.count))
    case 'cpu': {
      const u = process.cpuUsage()
      return { ev: 'cpu', user: u.user, system: u.system, t: nowUs() }
    }
    case 'stats': {
      const mem = process.memoryUsage()
      return { ev: 'stats', maxRssKiB: process.resourceUsage().maxRSS, rssKiB: Math.round(mem.rss / 1024), heapUsedKiB: Math.round(mem.heapUsed / 1024), externalKiB: Math.round(mem.external / 1024), arrayBuffersKiB: Math.round(mem.arrayBuffers / 1024), totalReceived }
    }
    case 'exit':
      pipe?.close()
      setImmediate(() => process.exit(0))
      return { ev: 'bye' }
    default:
      throw new Error(`unknown op '${String(msg.op)}'`)
  }
}

serveControl(ctl, handle)
