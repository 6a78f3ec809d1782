/**
 * js-libp2p 3.x stacks without a libp2p node: `@libp2p/mplex` and `@chainsafe/libp2p-yamux` over the socket
 * (`plain`), and `@chainsafe/libp2p-noise` (XX handshake, ChaCha20-Poly1305 through Node's crypto) under yamux
 * (`noise`). One muxed stream carries the messages; `send()` false / `onDrain()` is the backpressure.
 *
 * @module
 */
import '../harness/polyfill.js'
import type * as net from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { mplex } from '@libp2p/mplex'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { ConnectionEncrypter, MessageStream, PrivateKey, Stream, StreamMuxer, StreamMuxerFactory, Upgrader } from '@libp2p/interface'
import type { Pipe, Received, Stack, StackParams } from '../harness/stack.js'
import { toMessageStream } from './socket-message-stream.js'

type MuxerName = 'mplex' | 'yamux'

function muxerFactory (name: MuxerName): StreamMuxerFactory {
  return name === 'mplex' ? mplex()() : yamux()()
}

function streamPipe (stream: Stream, socket: net.Socket): Pipe {
  let consumer: ((d: Received) => void) | undefined
  stream.addEventListener('message', (evt) => { consumer?.(evt.data) })
  return {
    write: (msg) => stream.send(msg),
    writable: async () => { await stream.onDrain() },
    onData: (fn) => { consumer = fn },
    close: () => { socket.destroy() }
  }
}

async function openStream (muxer: StreamMuxer, direction: 'outbound' | 'inbound'): Promise<Stream> {
  if (direction === 'outbound') return await muxer.createStream()
  return await new Promise<Stream>((resolve) => {
    muxer.addEventListener('stream', (evt) => { resolve(evt.detail) }, { once: true })
  })
}

let encrypterPromise: Promise<ConnectionEncrypter> | undefined

/** One Noise instance per process (one static identity, as a libp2p node has). */
async function encrypter (): Promise<ConnectionEncrypter> {
  encrypterPromise ??= (async () => {
    const privateKey: PrivateKey = await generateKeyPair('Ed25519')
    const upgrader = { getStreamMuxers: () => new Map() } as unknown as Upgrader
    return noise()({ peerId: peerIdFromPrivateKey(privateKey), privateKey, logger: defaultLogger(), upgrader })
  })()
  return await encrypterPromise
}

async function secure (socket: net.Socket, direction: 'outbound' | 'inbound'): Promise<MessageStream> {
  const enc = await encrypter()
  const raw = toMessageStream(socket, direction)
  const secured = direction === 'outbound'
    ? await enc.secureOutbound(raw, { skipStreamMuxerNegotiation: true })
    : await enc.secureInbound(raw, { skipStreamMuxerNegotiation: true })
  return secured.connection
}

async function setup (socket: net.Socket, direction: 'outbound' | 'inbound', params: StackParams): Promise<Pipe> {
  const muxer = (params.muxer ?? 'yamux') as MuxerName
  const base: MessageStream = params.encrypt === true ? await secure(socket, direction) : toMessageStream(socket, direction)
  const m = muxerFactory(muxer).createStreamMuxer(base)
  const stream = await openStream(m, direction)
  return streamPipe(stream, socket)
}

const stack: Stack = {
  dial: async (socket, params) => await setup(socket, 'outbound', params),
  accept: async (socket, params) => await setup(socket, 'inbound', params),
  handshake: async (socket, role) => {
    await secure(socket, role === 'dialer' ? 'outbound' : 'inbound')
    return () => { socket.destroy() }
  }
}
export default stack
