/**
 * The Switch's {@link Peer}: an upgraded connection with an MConnection carrying every reactor's channels.
 * Internal to the Switch; users see it through the {@link Peer} interface.
 *
 * @module
 */
import type { Observable } from 'rxjs'
import type { ChannelDescriptor } from '../conn/channel.js'
import { MConnection, type ConnectionStatus, type MConnectionInit } from '../conn/mconnection.js'
import type { SecretConnection } from '../conn/secret-connection.js'
import type { DuplexConnection, HostPort } from '../transport/duplex.js'
import type { NodeId } from '../crypto/node-id.js'
import type { NetAddress } from '../transport/net-address.js'
import type { NodeInfo } from '../wire/node-info.js'
import type { Peer, PeerSendOptions } from './peer.js'

/** What a {@link SwitchPeer} is built from. */
export interface SwitchPeerInit {
  conn: SecretConnection
  raw: DuplexConnection
  nodeInfo: NodeInfo
  channels: readonly ChannelDescriptor[]
  outbound: boolean
  persistent: boolean
  socketAddr: NetAddress
  mconnection: MConnectionInit
}

/** A connected peer: NodeInfo, addresses, and an MConnection. */
export class SwitchPeer implements Peer {
  readonly id: NodeId
  readonly nodeInfo: NodeInfo
  readonly remoteAddress: HostPort
  readonly socketAddr: NetAddress
  readonly isOutbound: boolean
  readonly isPersistent: boolean
  readonly closed$: Observable<Error | undefined>
  /** The multiplexed connection. */
  readonly mconn: MConnection
  /** The raw transport connection under the SecretConnection. */
  readonly raw: DuplexConnection
  readonly #remoteChannels: Uint8Array

  constructor (init: SwitchPeerInit) {
    this.id = init.nodeInfo.id
    this.nodeInfo = init.nodeInfo
    this.raw = init.raw
    this.remoteAddress = init.raw.remoteAddress ?? { host: init.socketAddr.host, port: init.socketAddr.port }
    this.socketAddr = init.socketAddr
    this.isOutbound = init.outbound
    this.isPersistent = init.persistent
    this.#remoteChannels = init.nodeInfo.channels
    this.mconn = new MConnection(init.conn, init.channels, init.mconnection)
    this.closed$ = this.mconn.closed$
  }

  get isRunning (): boolean {
    return !this.mconn.isClosed
  }

  hasChannel (chId: number): boolean {
    return this.#remoteChannels.includes(chId)
  }

  async send (chId: number, message: Uint8Array, options?: PeerSendOptions): Promise<boolean> {
    // CometBFT `peer.send`: false when not running or the remote did not advertise the channel.
    if (!this.isRunning || !this.hasChannel(chId)) return false
    try {
      return await this.mconn.send(chId, message, options)
    } catch {
      return false
    }
  }

  trySend (chId: number, message: Uint8Array): boolean {
    if (!this.isRunning || !this.hasChannel(chId)) return false
    return this.mconn.trySend(chId, message)
  }

  canSend (chId: number): boolean {
    return this.isRunning && this.hasChannel(chId) && this.mconn.canSend(chId)
  }

  status (): ConnectionStatus {
    return this.mconn.status()
  }

  holdReading (): () => void {
    return this.mconn.holdReading()
  }

  toString (): string {
    return `Peer{${this.id.slice(0, 12)} ${this.isOutbound ? 'out' : 'in'} ${this.remoteAddress.host}:${this.remoteAddress.port}}`
  }
}
