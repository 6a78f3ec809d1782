/**
 * Holepunch stacks: `protomux` over `framed-stream` (plain), and `protomux` over `@hyperswarm/secret-stream`
 * (Noise XX on ed25519 keys, then libsodium secretstream XChaCha20-Poly1305 per message) for `encrypt: true`.
 * One channel, one raw message type; `message.send()` false / the channel's `ondrain` is the backpressure.
 *
 * @module
 */
import type * as net from 'node:net'
import NoiseSecretStream, { type KeyPair } from '@hyperswarm/secret-stream'
import c from 'compact-encoding'
import FramedStream from 'framed-stream'
import Protomux from 'protomux'
import type { Pipe, Received, Stack, StackParams } from '../harness/stack.js'

let keyPair: KeyPair | undefined

async function openStream (socket: net.Socket, initiator: boolean, encrypt: boolean): Promise<FramedStream | NoiseSecretStream> {
  socket.setNoDelay(true)
  if (!encrypt) return new FramedStream(socket)
  keyPair ??= NoiseSecretStream.keyPair()
  const s = new NoiseSecretStream(initiator, socket, { keyPair })
  s.on('error', () => {})
  if (!(await s.opened)) throw new Error('secret-stream handshake failed')
  return s
}

async function setup (socket: net.Socket, initiator: boolean, params: StackParams): Promise<Pipe> {
  const stream = await openStream(socket, initiator, params.encrypt === true)
  stream.on('error', () => {})
  let consumer: ((d: Received) => void) | undefined
  let drainWaiters: Array<() => void> = []
  const mux = new Protomux(stream)
  const channel = mux.createChannel({
    protocol: 'rx-p2p-bench',
    ondrain: () => {
      const ws = drainWaiters
      drainWaiters = []
      for (const w of ws) w()
    }
  })
  if (channel === null) throw new Error('protomux refused the channel')
  const message = channel.addMessage({ encoding: c.raw, onmessage: (m) => { consumer?.(m) } })
  channel.open()
  if (!(await channel.fullyOpened())) throw new Error('protomux channel did not open')
  return {
    write: (msg) => message.send(msg),
    writable: () => new Promise((resolve) => {
      if (channel.drained) resolve()
      else drainWaiters.push(resolve)
    }),
    onData: (fn) => { consumer = fn },
    close: () => { socket.destroy() }
  }
}

const stack: Stack = {
  dial: async (socket, params) => await setup(socket, true, params),
  accept: async (socket, params) => await setup(socket, false, params),
  handshake: async (socket, role) => {
    await openStream(socket, role === 'dialer', true)
    return () => { socket.destroy() }
  }
}
export default stack
