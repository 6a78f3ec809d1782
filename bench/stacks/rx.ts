/**
 * rx-p2p, imported from the library's sources (`../../lib`): an MConnection with one channel over the
 * TcpConnection (plain), or over a SecretConnection from `upgradeConnection` (secret handshake + NodeInfo
 * exchange) for `encrypt: true`.
 *
 * Params: `encrypt` (boolean), `rateLimited` (keep the default 5,120,000 B/s send and receive limits; else both
 * are 0 = unlimited), `flushThrottleMs` (@default 0), `sendQueueCapacity` (@default 100),
 * `handshake: 'secret' | 'upgrade'` (what the handshake timing covers, @default 'upgrade'),
 * `maxPacketMsgPayloadSize` (@default the library's, 1024).
 *
 * The library is loaded from `RX_BENCH_LIB` when set (a directory laid out like `lib/`), so a patched copy can be
 * measured against the tree: `RX_BENCH_LIB=$PWD/../.tmp/exp/lib npm run bench -- --case mconn-64k`.
 *
 * @module
 */
import type * as net from 'node:net'
import * as path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { DuplexConnection } from '../../lib/transport/duplex.js'
import type { MConnectionInit } from '../../lib/conn/mconnection.js'
import type { NodeKey } from '../../lib/crypto/node-key.js'
import type { NodeInfo } from '../../lib/wire/node-info.js'
import type { Pipe, Received, Stack, StackParams } from '../harness/stack.js'

const LIB = process.env.RX_BENCH_LIB ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../lib')
const modules = new Map<string, Promise<unknown>>()
/** Imports a library module once (an `import()` per handshake would cost a loader round trip each time). */
const lib = async <T> (file: string): Promise<T> => {
  let m = modules.get(file)
  if (m === undefined) {
    m = import(pathToFileURL(path.join(LIB, file)).href)
    modules.set(file, m)
  }
  return await m as T
}

const { TcpConnection } = await lib<typeof import('../../lib/transport/tcp.js')>('transport/tcp.ts')
const { MConnection } = await lib<typeof import('../../lib/conn/mconnection.js')>('conn/mconnection.ts')

const CH = 0x20

let identity: Promise<{ nodeKey: NodeKey, nodeInfo: NodeInfo }> | undefined

/** One node key and NodeInfo per process, as a node has; loaded only by the encrypted cases. */
async function ourIdentity (): Promise<{ nodeKey: NodeKey, nodeInfo: NodeInfo }> {
  identity ??= (async () => {
    const { NodeKey } = await lib<typeof import('../../lib/crypto/node-key.js')>('crypto/node-key.ts')
    const nodeKey = NodeKey.generate()
    const nodeInfo: NodeInfo = {
      protocolVersion: { p2p: 8, block: 11, app: 0 },
      id: nodeKey.id,
      listenAddr: 'tcp://127.0.0.1:26656',
      network: 'rx-p2p-bench',
      version: '0.38.26',
      channels: Uint8Array.of(CH),
      moniker: 'bench',
      other: { txIndex: 'off', rpcAddress: '' }
    }
    return { nodeKey, nodeInfo }
  })()
  return await identity
}

async function secure (socket: net.Socket, params: StackParams): Promise<DuplexConnection> {
  const raw = new TcpConnection(socket)
  const { nodeKey, nodeInfo } = await ourIdentity()
  if (params.handshake === 'secret') {
    const { makeSecretConnection } = await lib<typeof import('../../lib/conn/secret-connection.js')>('conn/secret-connection.ts')
    return await makeSecretConnection(raw, nodeKey)
  }
  const { upgradeConnection } = await lib<typeof import('../../lib/multiplex-transport/upgrade.js')>('multiplex-transport/upgrade.ts')
    .catch(async () => await lib<typeof import('../../lib/multiplex-transport/upgrade.js')>('transport/upgrade.ts')) // an older RX_BENCH_LIB
  return (await upgradeConnection(raw, { nodeKey, nodeInfo })).conn
}

async function setup (socket: net.Socket, params: StackParams): Promise<Pipe> {
  const conn: DuplexConnection = params.encrypt === true ? await secure(socket, params) : new TcpConnection(socket)
  const init: MConnectionInit = { flushThrottleMs: Number(params.flushThrottleMs ?? 0) }
  if (params.maxPacketMsgPayloadSize !== undefined) init.maxPacketMsgPayloadSize = Number(params.maxPacketMsgPayloadSize)
  if (params.rateLimited !== true) {
    init.sendRate = 0
    init.recvRate = 0
  }
  const mc = new MConnection(conn, [{ id: CH, priority: 1, sendQueueCapacity: Number(params.sendQueueCapacity ?? 100) }], init)
  let consumer: ((d: Received) => void) | undefined
  mc.inbound$.subscribe(({ message }) => { consumer?.(message) })
  mc.start()
  let pending: Promise<boolean> | undefined
  return {
    write: (msg) => {
      if (mc.trySend(CH, msg)) return true
      pending = mc.send(CH, msg, { timeoutMs: 600_000 })
      return false
    },
    writable: async () => {
      const p = pending
      pending = undefined
      if (p !== undefined && !(await p)) throw new Error('MConnection.send failed (closed)')
    },
    onData: (fn) => { consumer = fn },
    close: () => { mc.stop() }
  }
}

const stack: Stack = {
  dial: async (socket, params) => await setup(socket, params),
  accept: async (socket, params) => await setup(socket, params),
  handshake: async (socket, _role, params) => {
    const conn = await secure(socket, params)
    return () => { conn.destroy() }
  }
}
export default stack
