/**
 * `rx-p2p/conn`: connections below the Switch, as CometBFT's `p2p/conn`: the MConnection (prioritized channels
 * over one `DuplexConnection`) with its status, write buffer and receive budget, and the SecretConnection with
 * its AEAD backends. A node built on the Switch needs none of it; `ChannelDescriptor`, which every reactor
 * declares, is at the root, and the defaults are in `rx-p2p/defaults`.
 *
 * @example
 * ```ts
 * import { TcpTransport } from 'rx-p2p'
 * import { MConnection } from 'rx-p2p/conn'
 *
 * const mconn = new MConnection(await new TcpTransport().dial({ host: '127.0.0.1', port: 26656 }), [{ id: 0x40, priority: 1 }])
 * mconn.inbound$.subscribe(({ chId, message }) => console.log(chId, message.byteLength))
 * mconn.start()
 * ```
 *
 * @module rx-p2p/conn
 */
export type { ChannelStatus } from './channel.js'
export type { FlowStatus } from './flow-rate.js'
export {
  MConnection, type ConnectionStatus, type InboundMessage, type MConnectionInit, type MConnectionSendOptions
} from './mconnection.js'
export { RecvBudget, type RecvBudgetInit } from './recv-budget.js'
export {
  PooledWriteBuffer, WriteBufferPool, type PooledWriteBufferInit, type WriteBuffer, type WriteBufferFactory, type WriteBufferPoolInit
} from './write-buffer.js'
export { makeSecretConnection, SecretConnection, type SecretConnectionInit } from './secret-connection.js'
export { availableAeadBackends, type AeadBackend } from '../crypto/aead.js'
