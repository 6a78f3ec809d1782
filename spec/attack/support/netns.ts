/**
 * Several hosts on one machine: Linux network namespaces, each with its own IP, on one bridge that lives in a
 * namespace of its own (nothing is added to the machine's own network, and nothing is routed out of it). Used by
 * hosts.spec.ts to run rx-p2p nodes and attackers at distinct real addresses in distinct /16s.
 *
 * ```
 *   ns <prefix>br:  bridge br0 ── veth b0 ── veth eth0 in ns <prefix>0 (10.1.0.2/8)
 *                              ── veth b1 ── veth eth0 in ns <prefix>1 (10.2.0.2/8)
 *                              ── ...
 * ```
 *
 * Every address is in 10.0.0.0/8 with an /8 prefix, so all hosts share one link and reach each other with no
 * route, while their /16s (the address book's groups) differ.
 *
 * Run as a script (`ip netns exec NS node --import tsx netns.ts tool`) this file is an attacker's tool in a
 * namespace, driven over IPC: `squat` (TCP connections that never send a byte, reopened when closed) and
 * `halfHandshakes` (35 bytes of a handshake, then hang up).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { TargetConfig, TargetStats } from './protocol.js'
import { ipcCaller } from './ipc.js'

const run = promisify(execFile)

/** Namespaces of this module are named `rxp2p-netns-<pid>-...`: an earlier run's are found by a dead pid. */
const NAME_PREFIX = 'rxp2p-netns-'

/** Runs `ip` with the arguments; rejects with its stderr. */
async function ip (...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', args, { timeout: 10_000 })
    return stdout
  } catch (err) {
    const e = err as Error & { stderr?: string }
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`)
  }
}

/**
 * Why hosts cannot be built here, or `undefined` when they can: needs Linux, root, the `ip` command (iproute2)
 * and the right to create a network namespace (a container may forbid it). Creates and deletes a probe namespace.
 */
export async function netnsUnavailable (): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as uid 0)'
  try {
    await run('ip', ['-V'])
  } catch {
    return 'the ip command (iproute2) is not installed'
  }
  const probe = `${NAME_PREFIX}${process.pid}-probe`
  try {
    await ip('netns', 'add', probe)
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message}`
  }
  try {
    await ip('-n', probe, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', probe, 'link', 'add', 'name', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1')
  } catch (err) {
    return `cannot create a bridge or a veth pair in a namespace: ${(err as Error).message}`
  } finally {
    await ip('netns', 'del', probe).catch(() => {})
  }
  return undefined
}

function pidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Deletes the namespaces an earlier run of this module left behind (its process is gone). Returns their names. */
export async function removeLeftovers (): Promise<string[]> {
  const names = (await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(NAME_PREFIX))
  const stale = names.filter((n) => {
    const pid = Number(n.slice(NAME_PREFIX.length).split('-')[0])
    return !(Number.isInteger(pid) && pid !== process.pid && pidAlive(pid))
  })
  for (const n of stale) await ip('netns', 'del', n).catch(() => {})
  return stale
}

/** One host: a namespace with one IP on the shared bridge. */
export interface Host {
  /** The namespace's name. */
  readonly ns: string
  /** Its IP (on its interface `eth0`). */
  readonly ip: string
}

/** The hosts and their bridge. */
export interface HostNetwork {
  readonly hosts: readonly Host[]
  /** The namespace holding the bridge. */
  readonly bridgeNs: string
  /** Kills every process started with {@link startTargetIn} or {@link startToolIn}, deletes every namespace. */
  destroy (): Promise<void>
}

const started = new Set<ChildProcess>()
process.on('exit', () => { for (const c of started) c.kill('SIGKILL') })

/**
 * Builds one namespace per IP, each with an `eth0` (IP/8) on a bridge in a namespace of its own, and `lo` up.
 * On failure, whatever was built is deleted before the error is thrown.
 */
export async function createHostNetwork (ips: readonly string[]): Promise<HostNetwork> {
  const base = `${NAME_PREFIX}${process.pid}-${Date.now().toString(36)}`
  const bridgeNs = `${base}-br`
  const hosts: Host[] = ips.map((addr, i) => ({ ns: `${base}-${i}`, ip: addr }))
  const made: string[] = []
  const destroy = async (): Promise<void> => {
    for (const c of started) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    }
    await Promise.all([...started].map((c) => c.exitCode !== null || c.signalCode !== null
      ? undefined
      : new Promise<void>((resolve) => { c.once('exit', () => { resolve() }); setTimeout(resolve, 2000).unref() })))
    started.clear()
    // Deleting a namespace destroys the veth ends in it, and with them their peers.
    for (const ns of made.reverse()) await ip('netns', 'del', ns).catch(() => {})
  }
  try {
    await ip('netns', 'add', bridgeNs)
    made.push(bridgeNs)
    await ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', bridgeNs, 'link', 'set', 'br0', 'up')
    for (const [i, h] of hosts.entries()) {
      await ip('netns', 'add', h.ns)
      made.push(h.ns)
      // Both ends are created straight in their namespaces: no interface ever appears in the machine's own.
      await ip('link', 'add', 'name', 'eth0', 'netns', h.ns, 'type', 'veth', 'peer', 'name', `b${i}`, 'netns', bridgeNs)
      await ip('-n', bridgeNs, 'link', 'set', `b${i}`, 'master', 'br0', 'up')
      await ip('-n', h.ns, 'addr', 'add', `${h.ip}/8`, 'dev', 'eth0')
      await ip('-n', h.ns, 'link', 'set', 'eth0', 'up')
      await ip('-n', h.ns, 'link', 'set', 'lo', 'up')
    }
  } catch (err) {
    await destroy()
    throw err
  }
  return { hosts, bridgeNs, destroy }
}

/** Spawns `node --import tsx <script> ...args` inside the host's namespace, with an IPC channel. */
function spawnIn (host: Host, script: string, args: string[], execArgv: string[] = []): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, '--import', 'tsx', ...execArgv, script, ...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  started.add(child)
  child.on('exit', () => { started.delete(child) })
  return child
}

/** An rx-p2p node (the attack harness's target-node.ts: echo, bulk, optional PEX) running in a namespace. */
export interface HostNode {
  readonly host: Host
  readonly port: number
  readonly id: string
  /** `id@ip:port` */
  readonly address: string
  stats (): Promise<TargetStats>
  /** The node's address-book entries (with `pex`). */
  book (): Promise<Array<{ addr: string, src: string, bucketType: number }>>
  /** Makes the node dial `address`; resolves with the outcome (refusals are `ok: false`, not rejections). */
  dial (address: string): Promise<{ ok: boolean, error?: { name: string, reason?: string, message: string } }>
  /** Stops the node and waits for its process to end. */
  stop (): Promise<void>
}

const TARGET_SCRIPT = fileURLToPath(new URL('./target-node.ts', import.meta.url))
const THIS_SCRIPT = fileURLToPath(import.meta.url)

async function untilExit (child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    child.once('exit', () => { clearTimeout(timer); resolve() })
  })
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
}

/** Starts an rx-p2p node in the host's namespace, listening on the host's IP; resolves once it listens. */
export async function startTargetIn (host: Host, config: Omit<TargetConfig, 'host'> = {}): Promise<HostNode> {
  const child = spawnIn(host, TARGET_SCRIPT, [JSON.stringify({ ...config, host: host.ip })], ['--expose-gc', ...(config.execArgv ?? [])])
  let onReady!: (msg: { port: number, id: string }) => void
  const ready = new Promise<{ port: number, id: string }>((resolve, reject) => {
    onReady = resolve
    child.once('exit', (code, signal) => { reject(new Error(`the node in ${host.ns} exited (${code ?? signal}) before it was ready`)) })
  })
  const call = ipcCaller(child, 'the process in the namespace', (msg) => { if (msg?.op === 'ready') onReady(msg) })
  const { port, id } = await ready
  return {
    host,
    port,
    id,
    address: `${id}@${host.ip}:${port}`,
    stats: async () => (await call('stats')).stats,
    book: async () => (await call('book')).entries,
    dial: async (address) => await call('dial', { address }),
    stop: async () => {
      await call('stop').catch(() => {})
      await untilExit(child, 5000)
    }
  }
}

/** What a {@link Tool} reports. */
export interface ToolCounts {
  /** Connections opened (TCP connect succeeded). */
  opened: number
  /** Connections the other side closed (or reset). */
  closedByPeer: number
  /** Connections open now. */
  open: number
  /** Connect attempts that failed. */
  failed: number
  /** Connections open now that have been open for over 500 ms (held by the other side, not closed at accept). */
  heldOver500Ms: number
}

/** An attacker's tool process in a namespace. */
export interface Tool {
  readonly host: Host
  /**
   * Keeps `count` TCP connections to `target` open that never send a byte; each one the target closes is
   * reopened after `reopenMs`.
   */
  squat (target: { ip: string, port: number }, count: number, reopenMs?: number): Promise<void>
  /** Opens connections that send 35 bytes (a handshake's first message) and hang up, `perSecond` a second. */
  halfHandshakes (target: { ip: string, port: number }, perSecond: number): Promise<void>
  counts (): Promise<ToolCounts>
  /** Closes every connection and ends the process. */
  stop (): Promise<void>
}

/** Starts an attacker's tool process in the host's namespace. */
export async function startToolIn (host: Host): Promise<Tool> {
  const child = spawnIn(host, THIS_SCRIPT, ['tool'])
  let onReady!: () => void
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve
    child.once('exit', (code, signal) => { reject(new Error(`the tool in ${host.ns} exited (${code ?? signal}) before it was ready`)) })
  })
  const call = ipcCaller(child, 'the process in the namespace', (msg) => { if (msg?.op === 'ready') onReady() })
  await ready
  return {
    host,
    squat: async (target, count, reopenMs = 50) => { await call('squat', { target, count, reopenMs }) },
    halfHandshakes: async (target, perSecond) => { await call('halfHandshakes', { target, perSecond }) },
    counts: async () => (await call('counts')).counts,
    stop: async () => {
      await call('stop').catch(() => {})
      await untilExit(child, 3000)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The tool process

function toolMain (): void {
  const counts: ToolCounts = { opened: 0, closedByPeer: 0, open: 0, failed: 0, heldOver500Ms: 0 }
  const sockets = new Map<net.Socket, number>()
  const timers = new Set<NodeJS.Timeout>()
  let stopping = false
  const send = (msg: unknown): void => { process.send?.(msg) }

  const connect = (target: { ip: string, port: number }, onConnect: (s: net.Socket) => void, onGone: () => void): void => {
    if (stopping) return
    const s = net.connect({ host: target.ip, port: target.port })
    let connected = false
    s.once('connect', () => {
      connected = true
      counts.opened++
      counts.open++
      sockets.set(s, Date.now())
      onConnect(s)
    })
    s.on('error', (err: NodeJS.ErrnoException) => {
      // The node resets a connection it refuses at accept; the reset often arrives before our connect callback
      // runs. It was opened (the node accepted it) and closed by the node.
      if (!connected && err.code === 'ECONNRESET') {
        connected = true
        counts.opened++
        counts.open++
      }
    })
    s.once('close', () => {
      sockets.delete(s)
      if (connected) {
        counts.open--
        if (!stopping) counts.closedByPeer++
      } else {
        counts.failed++
      }
      onGone()
    })
  }
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => { timers.delete(t); fn() }, ms)
    timers.add(t)
  }

  const squatOne = (target: { ip: string, port: number }, reopenMs: number): void => {
    // It reads (nothing comes) so that a close by the node is seen; it never writes.
    connect(target, (s) => { s.resume() }, () => { later(reopenMs, () => { squatOne(target, reopenMs) }) })
  }
  // A fixed 32-byte ephemeral key, length-prefixed as the handshake's first message: 35 bytes.
  const hello = Buffer.concat([Buffer.from([0x22, 0x0a, 0x20]), Buffer.alloc(32, 9)])
  const halfHandshakes = (target: { ip: string, port: number }, perSecond: number): void => {
    const everyMs = 1000 / perSecond
    const tick = (): void => {
      if (stopping) return
      connect(target, (s) => { s.end(hello) }, () => {})
      later(everyMs, tick)
    }
    tick()
  }

  process.on('message', (raw: unknown) => {
    const msg = raw as { op: string, seq: number, target: { ip: string, port: number }, count: number, reopenMs: number, perSecond: number }
    switch (msg.op) {
      case 'squat':
        for (let i = 0; i < msg.count; i++) squatOne(msg.target, msg.reopenMs)
        send({ seq: msg.seq })
        break
      case 'halfHandshakes':
        halfHandshakes(msg.target, msg.perSecond)
        send({ seq: msg.seq })
        break
      case 'counts': {
        const now = Date.now()
        counts.heldOver500Ms = [...sockets.values()].filter((t) => now - t > 500).length
        send({ seq: msg.seq, counts })
        break
      }
      case 'stop':
        stopping = true
        for (const t of timers) clearTimeout(t)
        for (const s of sockets.keys()) s.destroy()
        send({ seq: msg.seq })
        process.exit(0)
    }
  })
  process.on('disconnect', () => { process.exit(0) })
  send({ op: 'ready' })
}

if (process.argv[1] === THIS_SCRIPT && process.argv[2] === 'tool') toolMain()
