/**
 * The baseline: the `net.Socket` itself, one `write()` per message, waiting for `'drain'` when `write()`
 * returns false. Nagle is off, as in rx-p2p's TCP transport.
 *
 * @module
 */
import type * as net from 'node:net'
import type { Pipe, Received, Stack } from '../harness/stack.js'

/** Wraps a socket as a {@link Pipe}. */
export function socketPipe (socket: net.Socket): Pipe {
  socket.setNoDelay(true)
  let consumer: ((d: Received) => void) | undefined
  socket.on('data', (chunk: Buffer) => { consumer?.(chunk) })
  socket.on('error', () => {})
  return {
    write: (msg) => socket.write(msg),
    writable: () => new Promise((resolve) => {
      if (!socket.writableNeedDrain) resolve()
      else socket.once('drain', resolve)
    }),
    onData: (fn) => { consumer = fn },
    close: () => { socket.destroy() }
  }
}

const stack: Stack = {
  dial: async (socket) => socketPipe(socket),
  accept: async (socket) => socketPipe(socket)
}
export default stack
