/**
 * Helpers for the CLI specs: the `rx-p2p` command as a real process (`node bin/rx-p2p.js …`), and rx-p2p nodes
 * with PEX on 127.0.0.1 for it to talk to.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { pexReactor, type PexReactor } from '../../lib/pex/pex-reactor.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import { Switch } from '../../lib/switch/switch.js'
import type { NetAddress } from '../../lib/transport/net-address.js'

/** bin/rx-p2p.js (it runs the sources through tsx in a checkout). */
export const BIN = fileURLToPath(new URL('../../bin/rx-p2p.js', import.meta.url))

/** A finished run of the command. */
export interface CliResult { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** A running `rx-p2p` process, its output so far, and a way to wait for a line. */
export class CliProcess {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly exited: Promise<CliResult>
  readonly #waiters: Array<{ test: () => boolean, resolve: () => void }> = []

  constructor (args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.stdout += d; this.#check() })
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; this.#check() })
    this.exited = new Promise<CliResult>((resolve) => {
      this.child.on('close', (code, signal) => {
        this.#check()
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr })
      })
    })
  }

  /** Resolves with the first match of `re` in stdout (or stderr with `stream: 'stderr'`); rejects on exit or after `timeoutMs`. */
  async waitFor (re: RegExp, stream: 'stdout' | 'stderr' = 'stdout', timeoutMs = 15_000): Promise<RegExpExecArray> {
    const find = (): RegExpExecArray | null => re.exec(stream === 'stdout' ? this.stdout : this.stderr)
    const now = find()
    if (now !== null) return now
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        new Promise<void>((resolve) => { this.#waiters.push({ test: () => find() !== null, resolve }) }),
        this.exited.then((r) => { throw new Error(`rx-p2p exited (${r.code ?? r.signal}) before ${re} appeared\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`) }),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => { reject(new Error(`${re} did not appear within ${timeoutMs} ms\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`)) }, timeoutMs)
        })
      ])
    } finally {
      clearTimeout(timer)
    }
    return find()!
  }

  /** Kills the process if it still runs (for `finally` blocks). */
  async kill (): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
    await this.exited
  }

  #check (): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!
      if (w.test()) {
        this.#waiters.splice(i, 1)
        w.resolve()
      }
    }
  }
}

/** Runs `rx-p2p args…` to the end. */
export async function rxP2p (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return await new CliProcess(args, env).exited
}

/** An rx-p2p node on 127.0.0.1 that never dials on its own: it knows what its book is told. */
export interface TestNode { sw: Switch, pex: PexReactor | undefined, address: NetAddress }

/** Starts `count` nodes with PEX (or `reactors(i)` instead) on 127.0.0.1. */
export async function startNodes (count: number, init: { network?: string, moniker?: (i: number) => string, reactors?: (i: number) => Reactor[] | undefined } = {}): Promise<TestNode[]> {
  const nodes: TestNode[] = []
  for (let i = 0; i < count; i++) {
    const custom = init.reactors?.(i)
    const pex = custom === undefined ? pexReactor({ addrBookStrict: false }) : undefined
    const sw = new Switch({
      nodeKey: NodeKey.generate(),
      moniker: init.moniker?.(i) ?? `cli-node-${i}`,
      network: init.network ?? 'cli-net',
      listenAddress: '127.0.0.1:0',
      allowDuplicateIp: true,
      maxOutboundPeers: 0,
      dialRandomizerMs: 0,
      reactors: custom ?? [pex!]
    })
    await sw.start()
    nodes.push({ sw, pex, address: sw.listenAddress! })
  }
  return nodes
}

/** Stops the nodes (and saves nothing: their books have no file). */
export async function stopNodes (nodes: readonly TestNode[]): Promise<void> {
  await Promise.all(nodes.map(async (n) => { await n.sw.stop() }))
}

/** A port on 127.0.0.1 with nothing listening. */
export async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}
