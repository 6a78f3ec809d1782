/**
 * A `net.Socket` as libp2p 3.x's `MessageStream` (what `@libp2p/tcp` builds internally but does not export),
 * so the libp2p muxers and Noise run over a plain socket without a whole libp2p node.
 *
 * @module
 */
import type * as net from 'node:net'
import { defaultLogger } from '@libp2p/logger'
import { AbstractMultiaddrConnection, ipPortToMultiaddr, type SendResult } from '@libp2p/utils'
import type { MessageStreamDirection } from '@libp2p/interface'

/** The list type libp2p hands to `sendData` (its own copy of `uint8arraylist`). */
type ChunkList = Parameters<AbstractMultiaddrConnection['sendData']>[0]

class SocketMessageStream extends AbstractMultiaddrConnection {
  readonly socket: net.Socket

  constructor (socket: net.Socket, direction: MessageStreamDirection) {
    super({
      remoteAddr: ipPortToMultiaddr(socket.remoteAddress ?? '127.0.0.1', socket.remotePort ?? 0),
      direction,
      log: defaultLogger().forComponent('bench:socket'),
      inactivityTimeout: 0
    })
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', (buf: Buffer) => { this.onData(buf) })
    socket.on('error', (err) => { this.abort(err) })
    socket.once('end', () => { this.onTransportClosed() })
    socket.once('close', () => { this.onTransportClosed() })
    socket.on('drain', () => { this.safeDispatchEvent('drain') })
  }

  sendData (data: ChunkList): SendResult {
    let sentBytes = 0
    let canSendMore = true
    for (const buf of data) {
      sentBytes += buf.byteLength
      canSendMore = this.socket.write(buf)
      if (!canSendMore) break
    }
    return { sentBytes, canSendMore }
  }

  async sendClose (): Promise<void> {
    this.socket.destroySoon()
  }

  sendReset (): void {
    this.socket.destroy()
  }

  sendPause (): void {
    this.socket.pause()
  }

  sendResume (): void {
    this.socket.resume()
  }
}

/** Wraps a connected socket as a libp2p `MultiaddrConnection`. */
export function toMessageStream (socket: net.Socket, direction: MessageStreamDirection): SocketMessageStream {
  return new SocketMessageStream(socket, direction)
}
