/**
 * A harness for the interop specs: real CometBFT nodes (the reference implementation) on loopback.
 *
 * - {@link COMET_VERSIONS} lists the versions the specs run against; {@link findCometBinary} finds each binary
 *   (env `COMETBFT_V038` / `COMETBFT_V1`, else the cache that `scripts/install-cometbft.sh` fills).
 * - {@link requireCometBinary} is for a mocha `before` hook: it skips the suite with a printed reason when the
 *   binary is missing (or fails it when `RX_P2P_REQUIRE_INTEROP=1`, as `.ci/run` sets where Go exists).
 * - {@link CometNode.create} runs `cometbft init` in a temp dir and writes a loopback `config.toml`;
 *   {@link CometNode.start} runs `cometbft start --proxy_app kvstore` and waits for the RPC; the RPC helpers use
 *   Node's fetch on 127.0.0.1. {@link createCometNetwork} builds several nodes on one genesis.
 * - Every node is stopped and its temp dir removed by {@link CometNode.stop} / {@link stopAll}, and at the
 *   latest when the process exits. The node's output goes to a log file under
 *   `.tmp/interop-logs/run-<time>-<pid>/` (kept for diagnosis; {@link CometNode.logTail} prints its end).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { mkdtemp, readFile, writeFile, copyFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

// ---------------------------------------------------------------------------------------------
// Binaries

/** A CometBFT version the interop specs run against. */
export interface CometVersion {
  /** Short key used in spec titles and file names: `v0.38` or `v1`. */
  key: 'v0.38' | 'v1'
  /** The release installed by scripts/install-cometbft.sh. */
  tag: string
  /** The environment variable that overrides the binary's path. */
  env: string
  /** NodeInfo.protocol_version.p2p that this version sends. */
  p2pProtocol: number
}

/** The versions under test (the newest patch releases of the two supported lines). */
export const COMET_VERSIONS: readonly CometVersion[] = [
  { key: 'v0.38', tag: 'v0.38.26', env: 'COMETBFT_V038', p2pProtocol: 8 },
  { key: 'v1', tag: 'v1.0.1', env: 'COMETBFT_V1', p2pProtocol: 9 }
]

/** Where scripts/install-cometbft.sh puts the binaries. */
export function cometCacheDir (): string {
  return join(process.env.RX_P2P_CACHE ?? join(homedir(), '.cache', 'rx-p2p'), 'cometbft')
}

/** The result of looking for a binary: its path, or why it cannot be used. */
export type FindResult = { path: string, reason?: undefined } | { path?: undefined, reason: string }

/** Finds the binary of `version`: `$COMETBFT_V038` / `$COMETBFT_V1` when set, else the cache path. */
export function findCometBinary (version: CometVersion): FindResult {
  const fromEnv = process.env[version.env]
  const path = fromEnv !== undefined && fromEnv !== '' ? resolve(fromEnv) : join(cometCacheDir(), version.tag, 'cometbft')
  if (!existsSync(path)) {
    return {
      reason: `CometBFT ${version.tag} not found at ${path} ` +
        `(run \`npm run interop:install\` with Go on PATH, or set ${version.env} to a cometbft binary)`
    }
  }
  const out = spawnSync(path, ['version'], { encoding: 'utf8', timeout: 10_000 })
  if (out.status !== 0) return { reason: `${path} does not run: ${out.error?.message ?? out.stderr.trim()}` }
  const got = out.stdout.trim().split('\n')[0] ?? ''
  if (got.split('.').slice(0, 2).join('.') !== version.tag.slice(1).split('.').slice(0, 2).join('.')) {
    return { reason: `${path} reports version ${got}, expected ${version.tag}` }
  }
  return { path }
}

/**
 * For a mocha `before` hook: returns the binary's path, or skips the suite (printing why) when it is missing.
 * With `RX_P2P_REQUIRE_INTEROP=1` (set by .ci/run where Go is installed) a missing binary fails instead.
 */
export function requireCometBinary (ctx: Mocha.Context, version: CometVersion): string {
  const found = findCometBinary(version)
  if (found.path !== undefined) return found.path
  if (process.env.RX_P2P_REQUIRE_INTEROP === '1') throw new Error(`interop: ${found.reason}`)
  console.log(`      [interop] skipping "${ctx.test?.parent?.fullTitle() ?? version.tag}": ${found.reason}`)
  ctx.skip()
}

// ---------------------------------------------------------------------------------------------
// Ports, logs, cleanup

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort (): Promise<number> {
  return await new Promise((resolvePort, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => { resolvePort(port) })
    })
  })
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
/** The directory under which each test process keeps its node logs (`run-<time>-<pid>/`). */
export const LOG_ROOT = process.env.RX_P2P_INTEROP_LOGS ?? join(REPO_ROOT, '.tmp', 'interop-logs')
/** How many finished runs' log directories are kept. */
const KEEP_RUNS = 3
let logDir: string | undefined
let logSeq = 0

/**
 * This process's log directory, made on first use. Several test runs may share the tree at once, so each
 * gets its own directory; directories of finished runs beyond the newest {@link KEEP_RUNS} are removed.
 */
export function logDirectory (): string {
  if (logDir !== undefined) return logDir
  mkdirSync(LOG_ROOT, { recursive: true })
  const finished = readdirSync(LOG_ROOT)
    .map((name) => ({ name, m: /^run-(\d+)-(\d+)$/.exec(name) }))
    .filter((e) => e.m !== null && !processAlive(Number(e.m[2])))
    .sort((a, b) => Number(b.m![1]) - Number(a.m![1]))
  for (const e of finished.slice(KEEP_RUNS - 1)) rmSync(join(LOG_ROOT, e.name), { recursive: true, force: true })
  logDir = join(LOG_ROOT, `run-${Date.now()}-${process.pid}`)
  mkdirSync(logDir, { recursive: true })
  return logDir
}

function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function nextLogPath (name: string): string {
  const dir = logDirectory()
  logSeq++
  return join(dir, `${String(logSeq).padStart(3, '0')}-${name.replace(/[^A-Za-z0-9._-]/g, '_')}.log`)
}

const live = new Set<CometNode>()
let exitHookInstalled = false

function installExitHook (): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Last resort when a spec forgot to stop a node or the process is dying: kill synchronously, remove homes.
  process.once('exit', () => {
    for (const node of live) node.killNow()
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const node of live) node.killNow()
      process.kill(process.pid, signal)
    })
  }
}

/** Stops every node still running (for an `after` hook that owns several). */
export async function stopAll (): Promise<void> {
  await Promise.all([...live].map(async (node) => { await node.stop() }))
}

// ---------------------------------------------------------------------------------------------
// config.toml

/** A TOML value as the harness writes it. */
export type TomlValue = string | number | boolean | string[]

function tomlLiteral (value: TomlValue): string {
  if (Array.isArray(value)) return `[${value.map((v) => JSON.stringify(v)).join(', ')}]`
  if (typeof value === 'string') return JSON.stringify(value)
  return String(value)
}

/**
 * Sets `key = value` in `[section]` of a CometBFT config.toml (section '' = the top level). The key must
 * already be there (the template writes every key), so a typo fails loudly.
 */
export function setToml (text: string, section: string, key: string, value: TomlValue): string {
  const lines = text.split('\n')
  let current = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line)
    if (header !== null) {
      current = header[1]!.trim()
      continue
    }
    if (current !== section) continue
    const m = /^(\s*)([A-Za-z0-9_.-]+)\s*=/.exec(line)
    if (m !== null && m[2] === key) {
      lines[i] = `${m[1]}${key} = ${tomlLiteral(value)}`
      return lines.join('\n')
    }
  }
  throw new Error(`config.toml has no key ${key} in section [${section}]`)
}

// ---------------------------------------------------------------------------------------------
// Nodes

/** How to configure a node. */
export interface CometNodeOptions {
  /** @default 'cmt-<n>' */
  moniker?: string
  /** The PEX reactor (channel 0x00). @default false */
  pex?: boolean
  /** @default false */
  seedMode?: boolean
  /** `id@host:port` addresses the node keeps dialing. */
  persistentPeers?: string[]
  /** `id@host:port` seed addresses. */
  seeds?: string[]
  /** `p2p.flush_throttle_timeout` in ms. @default 10 */
  flushThrottleMs?: number
  /** `consensus.timeout_commit` in ms: the block interval of a one-validator chain. @default 300 */
  timeoutCommitMs?: number
  /** CometBFT's `log_level`. @default 'info' */
  logLevel?: string
  /** Copy genesis.json from this node (so both are on one chain). */
  genesisFrom?: CometNode
  /** Further config.toml edits: `{ section: { key: value } }` ('' = top level). */
  config?: Record<string, Record<string, TomlValue>>
}

/** One JSON-RPC failure. */
export class CometRpcError extends Error {
  constructor (readonly method: string, readonly rpcError: { code: number, message: string, data?: string }) {
    super(`${method}: ${rpcError.message}${rpcError.data !== undefined ? `: ${rpcError.data}` : ''}`)
  }
}

/** `/status` as far as the specs read it. */
export interface CometStatus {
  node_info: {
    protocol_version: { p2p: string, block: string, app: string }
    id: string
    listen_addr: string
    network: string
    version: string
    channels: string
    moniker: string
    other: { tx_index: string, rpc_address: string }
  }
  sync_info: { latest_block_height: string, catching_up: boolean }
}

/** One peer of `/net_info`. */
export interface CometPeerInfo {
  node_info: CometStatus['node_info']
  is_outbound: boolean
  remote_ip: string
  connection_status: { Duration: string, Channels: Array<{ ID: number, SendQueueSize: string, Priority: string, RecentlySent: string }> }
}

/** `/net_info`. */
export interface CometNetInfo {
  listening: boolean
  n_peers: string
  peers: CometPeerInfo[]
}

/** `/broadcast_tx_sync`. */
export interface CometBroadcastResult {
  code: number
  log: string
  /** SHA-256 of the tx, upper-case hex. */
  hash: string
}

/** `/tx`. */
export interface CometTxResult {
  hash: string
  height: string
  index: number
  tx_result: { code: number, log: string }
  /** base64 */
  tx: string
}

/** `/block` (the parts the specs read). */
export interface CometBlockResult {
  block: { header: { height: string, chain_id: string }, data: { txs: string[] | null } }
}

/** `/unconfirmed_txs`. */
export interface CometUnconfirmedTxs {
  n_txs: string
  total: string
  /** base64 */
  txs: string[] | null
}

let monikerSeq = 0

/**
 * A CometBFT node in a temp home, with the built-in kvstore app.
 *
 * @example
 * ```ts
 * const node = await CometNode.create(bin, { moniker: 'ref' })
 * await node.start()
 * const status = await node.status()
 * await node.stop()
 * ```
 */
export class CometNode {
  /** The node's ID (from its node_key.json). */
  readonly id: string
  /** The chain ID (from its genesis.json). */
  chainId: string
  #child: ChildProcess | undefined
  #exited: Promise<void> | undefined
  #exitCode: number | null | undefined
  #removed = false
  #p2pPort: number
  #rpcPort: number

  private constructor (
    readonly binary: string,
    readonly home: string,
    readonly moniker: string,
    p2pPort: number,
    rpcPort: number,
    readonly logPath: string,
    id: string,
    chainId: string
  ) {
    this.id = id
    this.chainId = chainId
    this.#p2pPort = p2pPort
    this.#rpcPort = rpcPort
  }

  /** The P2P port on 127.0.0.1. */
  get p2pPort (): number {
    return this.#p2pPort
  }

  /** The RPC port on 127.0.0.1. */
  get rpcPort (): number {
    return this.#rpcPort
  }

  /** `cometbft init` in a fresh temp dir, then the loopback config. The node is not started. */
  static async create (binary: string, options: CometNodeOptions = {}): Promise<CometNode> {
    installExitHook()
    const moniker = options.moniker ?? `cmt-${++monikerSeq}`
    const home = await mkdtemp(join(tmpdir(), 'rx-p2p-cmt-'))
    try {
      const init = spawnSync(binary, ['init', '--home', home], { encoding: 'utf8', timeout: 30_000 })
      if (init.status !== 0) throw new Error(`cometbft init failed: ${init.error?.message ?? init.stderr}`)
      if (options.genesisFrom !== undefined) {
        await copyFile(join(options.genesisFrom.home, 'config', 'genesis.json'), join(home, 'config', 'genesis.json'))
      }
      const [p2pPort, rpcPort] = await distinctFreePorts(2)
      const configPath = join(home, 'config', 'config.toml')
      let toml = await readFile(configPath, 'utf8')
      const set = (section: string, key: string, value: TomlValue): void => { toml = setToml(toml, section, key, value) }
      set('', 'moniker', moniker)
      set('', 'log_level', options.logLevel ?? 'info')
      set('rpc', 'laddr', `tcp://127.0.0.1:${rpcPort}`)
      set('rpc', 'pprof_laddr', '')
      set('p2p', 'laddr', `tcp://127.0.0.1:${p2pPort}`)
      set('p2p', 'external_address', '')
      set('p2p', 'addr_book_strict', false)
      set('p2p', 'allow_duplicate_ip', true)
      set('p2p', 'flush_throttle_timeout', `${options.flushThrottleMs ?? 10}ms`)
      set('p2p', 'pex', options.pex ?? false)
      set('p2p', 'seed_mode', options.seedMode ?? false)
      set('p2p', 'persistent_peers', (options.persistentPeers ?? []).join(','))
      set('p2p', 'seeds', (options.seeds ?? []).join(','))
      set('consensus', 'timeout_commit', `${options.timeoutCommitMs ?? 300}ms`)
      set('consensus', 'timeout_propose', '1s')
      set('instrumentation', 'prometheus', false)
      for (const [section, entries] of Object.entries(options.config ?? {})) {
        for (const [key, value] of Object.entries(entries)) set(section, key, value)
      }
      await writeFile(configPath, toml)
      const nodeKey = JSON.parse(await readFile(join(home, 'config', 'node_key.json'), 'utf8')) as { priv_key: { value: string } }
      const keyBytes = Buffer.from(nodeKey.priv_key.value, 'base64')
      const id = createHash('sha256').update(keyBytes.subarray(32, 64)).digest().subarray(0, 20).toString('hex')
      const genesis = JSON.parse(await readFile(join(home, 'config', 'genesis.json'), 'utf8')) as { chain_id: string }
      const node = new CometNode(binary, home, moniker, p2pPort!, rpcPort!, nextLogPath(`${versionOf(binary)}-${moniker}`), id, genesis.chain_id)
      live.add(node)
      return node
    } catch (err) {
      rmSync(home, { recursive: true, force: true })
      throw err
    }
  }

  /** `id@127.0.0.1:port`, for persistent_peers and for dialing. */
  get address (): string {
    return `${this.id}@127.0.0.1:${this.p2pPort}`
  }

  /** The RPC base URL. */
  get rpcUrl (): string {
    return `http://127.0.0.1:${this.rpcPort}`
  }

  /** True while the process runs. */
  get running (): boolean {
    return this.#child !== undefined && this.#exitCode === undefined
  }

  /** Rewrites config.toml keys (only before {@link start} or between a stop and a start). */
  async configure (edits: Record<string, Record<string, TomlValue>>): Promise<void> {
    const configPath = join(this.home, 'config', 'config.toml')
    let toml = await readFile(configPath, 'utf8')
    for (const [section, entries] of Object.entries(edits)) {
      for (const [key, value] of Object.entries(entries)) toml = setToml(toml, section, key, value)
    }
    await writeFile(configPath, toml)
  }

  /**
   * Starts `cometbft start --home H --proxy_app kvstore` and resolves once the RPC answers `/status`
   * (and, by default, the first block is committed).
   */
  async start (options: { timeoutMs?: number, waitForBlock?: boolean } = {}): Promise<void> {
    if (this.#child !== undefined) throw new Error(`${this.moniker} already started`)
    // A free port can be taken by another process between freePort() and the node's bind (several test runs
    // may share the machine): then the node exits at once, and it is started again on new ports.
    for (let attempt = 1; ; attempt++) {
      const logStart = this.log().length
      try {
        await this.#startOnce(options)
        return
      } catch (err) {
        const output = this.log().slice(logStart)
        if (attempt >= 3 || this.#exitCode === undefined || !/address already in use/i.test(output)) throw err
        console.log(`      [interop] ${this.moniker}: port taken, restarting on new ports`)
        this.#child = undefined
        this.#exitCode = undefined
        const [p2pPort, rpcPort] = await distinctFreePorts(2)
        this.#p2pPort = p2pPort!
        this.#rpcPort = rpcPort!
        await this.configure({ rpc: { laddr: `tcp://127.0.0.1:${rpcPort}` }, p2p: { laddr: `tcp://127.0.0.1:${p2pPort}` } })
      }
    }
  }

  async #startOnce (options: { timeoutMs?: number, waitForBlock?: boolean }): Promise<void> {
    const fd = openSync(this.logPath, 'a')
    try {
      this.#child = spawn(this.binary, ['start', '--home', this.home, '--proxy_app', 'kvstore'], {
        stdio: ['ignore', fd, fd]
      })
    } finally {
      closeSync(fd)
    }
    const child = this.#child
    this.#exited = new Promise((resolveExit) => {
      child.once('exit', (code) => {
        this.#exitCode = code
        resolveExit()
      })
      child.once('error', (err) => {
        this.#exitCode = -1
        console.log(`      [interop] ${this.moniker}: spawn failed: ${err.message}`)
        resolveExit()
      })
    })
    const deadline = Date.now() + (options.timeoutMs ?? 30_000)
    for (;;) {
      if (this.#exitCode !== undefined) {
        throw new Error(`${this.moniker} exited with code ${String(this.#exitCode)} while starting; log ${this.logPath}:\n${this.logTail(30)}`)
      }
      try {
        const status = await this.status()
        if (options.waitForBlock === false || Number(status.sync_info.latest_block_height) >= 1) return
      } catch {}
      if (Date.now() > deadline) {
        throw new Error(`${this.moniker} did not become ready in time; log ${this.logPath}:\n${this.logTail(30)}`)
      }
      await sleep(100)
    }
  }

  /** Stops the node (SIGTERM, then SIGKILL after 5 s) and removes its home. Safe to call twice. */
  async stop (options: { keepHome?: boolean } = {}): Promise<void> {
    const child = this.#child
    if (child !== undefined && this.#exitCode === undefined) {
      child.kill('SIGTERM')
      const killer = setTimeout(() => { child.kill('SIGKILL') }, 5000)
      await this.#exited
      clearTimeout(killer)
    }
    this.#child = undefined
    this.#exitCode = undefined
    if (options.keepHome !== true) {
      live.delete(this)
      this.#removeHome()
    }
  }

  /** Synchronous kill and cleanup, for the process exit hook. */
  killNow (): void {
    if (this.#child !== undefined && this.#exitCode === undefined) this.#child.kill('SIGKILL')
    this.#removeHome()
    live.delete(this)
  }

  #removeHome (): void {
    if (this.#removed) return
    this.#removed = true
    rmSync(this.home, { recursive: true, force: true })
  }

  /** The last `lines` lines of the node's log. */
  logTail (lines = 40): string {
    try {
      const text = readFileSync(this.logPath, 'utf8').trimEnd().split('\n')
      return text.slice(-lines).join('\n')
    } catch {
      return '(no log)'
    }
  }

  /** The node's whole log so far. */
  log (): string {
    try {
      return readFileSync(this.logPath, 'utf8')
    } catch {
      return ''
    }
  }

  // ---- RPC ------------------------------------------------------------------------------------

  /** A JSON-RPC call (POST to the RPC root). */
  async rpc<T> (method: string, params: Record<string, unknown> = {}): Promise<T> {
    const res = await fetch(this.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      signal: AbortSignal.timeout(10_000)
    })
    const body = await res.json() as { result?: T, error?: { code: number, message: string, data?: string } }
    if (body.error !== undefined) throw new CometRpcError(method, body.error)
    if (body.result === undefined) throw new Error(`${method}: HTTP ${res.status} without a result`)
    return body.result
  }

  /** `/status`. */
  async status (): Promise<CometStatus> {
    return await this.rpc<CometStatus>('status')
  }

  /** The latest committed height. */
  async height (): Promise<number> {
    return Number((await this.status()).sync_info.latest_block_height)
  }

  /** `/net_info`. */
  async netInfo (): Promise<CometNetInfo> {
    return await this.rpc<CometNetInfo>('net_info')
  }

  /** `/broadcast_tx_sync` (fails when CheckTx rejects the tx). */
  async broadcastTxSync (tx: Uint8Array | string): Promise<CometBroadcastResult> {
    const bytes = typeof tx === 'string' ? Buffer.from(tx, 'utf8') : Buffer.from(tx)
    const result = await this.rpc<CometBroadcastResult>('broadcast_tx_sync', { tx: bytes.toString('base64') })
    if (result.code !== 0) throw new Error(`broadcast_tx_sync: CheckTx code ${result.code}: ${result.log}`)
    return result
  }

  /** `/unconfirmed_txs`: the mempool's txs, decoded. */
  async unconfirmedTxs (limit = 100): Promise<Uint8Array[]> {
    const result = await this.rpc<CometUnconfirmedTxs>('unconfirmed_txs', { limit: String(limit) })
    return (result.txs ?? []).map((b64) => new Uint8Array(Buffer.from(b64, 'base64')))
  }

  /** `/tx` by hash (hex, either case, with or without 0x); undefined while not committed (or not indexed). */
  async tx (hash: string): Promise<CometTxResult | undefined> {
    const hex = hash.replace(/^0x/i, '')
    try {
      return await this.rpc<CometTxResult>('tx', { hash: Buffer.from(hex, 'hex').toString('base64'), prove: false })
    } catch (err) {
      if (err instanceof CometRpcError && /not found/i.test(err.rpcError.data ?? '')) return undefined
      throw err
    }
  }

  /** `/block` at `height` (latest when omitted). */
  async block (height?: number): Promise<CometBlockResult> {
    return await this.rpc<CometBlockResult>('block', height === undefined ? {} : { height: String(height) })
  }

  /** The txs of block `height`, decoded. */
  async blockTxs (height: number): Promise<Uint8Array[]> {
    const result = await this.block(height)
    return (result.block.data.txs ?? []).map((b64) => new Uint8Array(Buffer.from(b64, 'base64')))
  }

  /** Polls `probe` until it returns something other than undefined/false, or throws after `timeoutMs`. */
  async waitFor<T> (what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000, intervalMs = 100): Promise<T> {
    const deadline = Date.now() + timeoutMs
    let lastError: unknown
    for (;;) {
      try {
        const value = await probe()
        if (value !== undefined && value !== false) return value
      } catch (err) {
        lastError = err
      }
      if (this.#exitCode !== undefined && this.#child !== undefined) {
        throw new Error(`${this.moniker} exited (code ${String(this.#exitCode)}) while waiting for ${what}; log:\n${this.logTail(30)}`)
      }
      if (Date.now() > deadline) {
        const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`)
      }
      await sleep(intervalMs)
    }
  }

  /** Waits until the height is at least `height`. */
  async waitForHeight (height: number, timeoutMs = 15_000): Promise<number> {
    return await this.waitFor(`${this.moniker} height ${height}`, async () => {
      const h = await this.height()
      return h >= height ? h : undefined
    }, timeoutMs)
  }

  /** Waits until `/net_info` lists a peer with `id` (resolves with it). */
  async waitForPeer (id: string, timeoutMs = 15_000): Promise<CometPeerInfo> {
    return await this.waitFor(`${this.moniker} to list peer ${id}`, async () => {
      const info = await this.netInfo()
      return info.peers.find((p) => p.node_info.id === id)
    }, timeoutMs)
  }

  /** Waits until a tx is committed; resolves with the `/tx` result. */
  async waitForTx (hash: string, timeoutMs = 15_000): Promise<CometTxResult> {
    return await this.waitFor(`tx ${hash} to be committed`, async () => await this.tx(hash), timeoutMs, 200)
  }
}

/**
 * Nodes on one chain: node 0 is the only validator (so the chain makes blocks whatever the others do), the
 * others copy its genesis, and every node lists every other as a persistent peer. The nodes are created, not
 * started; {@link startAll} starts them.
 */
export async function createCometNetwork (binary: string, size: number, options: CometNodeOptions = {}): Promise<CometNode[]> {
  const nodes: CometNode[] = []
  try {
    for (let i = 0; i < size; i++) {
      nodes.push(await CometNode.create(binary, {
        ...options,
        moniker: `${options.moniker ?? 'net'}-${i}`,
        ...(i > 0 ? { genesisFrom: nodes[0] } : {})
      }))
    }
    for (const node of nodes.slice(1)) node.chainId = nodes[0]!.chainId
    for (const node of nodes) {
      const peers = [...(options.persistentPeers ?? []), ...nodes.filter((n) => n !== node).map((n) => n.address)]
      await node.configure({ p2p: { persistent_peers: peers.join(',') } })
    }
    return nodes
  } catch (err) {
    for (const node of nodes) await node.stop()
    throw err
  }
}

/** Starts nodes in parallel; only node 0 (the validator) is waited on for a first block. */
export async function startAll (nodes: readonly CometNode[]): Promise<void> {
  await Promise.all(nodes.map(async (node, i) => { await node.start({ waitForBlock: i === 0 }) }))
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Resolves after `ms` (real time; the interop specs run against real processes). */
export async function sleep (ms: number): Promise<void> {
  await new Promise((resolveSleep) => { setTimeout(resolveSleep, ms) })
}

/** SHA-256 of a tx, upper-case hex (the hash CometBFT's RPC reports). */
export function txHash (tx: Uint8Array): string {
  return createHash('sha256').update(tx).digest('hex').toUpperCase()
}

async function distinctFreePorts (n: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < n) ports.add(await freePort())
  return [...ports]
}

function versionOf (binary: string): string {
  const v = COMET_VERSIONS.find((cv) => binary.includes(cv.tag))
  return v?.key ?? 'custom'
}
