/**
 * The stacks a Node bench worker can run, by name, loaded lazily (a worker imports only its own stack's
 * libraries, so its RSS is that stack's).
 *
 * @module
 */
import type { Stack } from '../harness/stack.js'

const loaders: Record<string, () => Promise<{ default: Stack }>> = {
  'raw-tcp': async () => await import('./raw-tcp.js'),
  protomux: async () => await import('./protomux.js'),
  libp2p: async () => await import('./libp2p.js'),
  rx: async () => await import('./rx.js')
}

/** Loads the stack called `name`. */
export async function loadStack (name: string): Promise<Stack> {
  const load = loaders[name]
  if (load === undefined) throw new Error(`unknown stack '${name}' (known: ${Object.keys(loaders).join(', ')})`)
  return (await load()).default
}
