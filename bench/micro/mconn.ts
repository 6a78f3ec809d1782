/**
 * In-process microbenchmarks of the MConnection hot paths, without sockets: the send path (queue → packets →
 * write buffer → `write()`) into a transport that takes everything, and the receive path (64 KiB chunks, as a
 * socket delivers them → packets → messages) from a pre-encoded stream. One thread, CPU time per payload byte,
 * so it answers "what does rx-p2p itself cost per byte" even on a loaded machine. Alternating A/B runs of two
 * library copies (`--lib a=<dir> --lib b=<dir>`) give a fair comparison of a proposed change.
 *
 * ```
 * node --import tsx micro/mconn.ts [--size 1024,65536] [--mib 64] [--rounds 7] [--only send|recv] [--lib name=dir]...
 * ```
 *
 * @module
 */
import * as path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { median } from '../harness/stats.js'

type DuplexMod = typeof import('../../lib/transport/duplex.js')
type MConnMod = typeof import('../../lib/conn/mconnection.js')

interface Lib { name: string, dir: string, duplex: DuplexMod, mconn: MConnMod }

const DEFAULT_LIB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../lib')

async function loadLib (name: string, dir: string): Promise<Lib> {
  const imp = async <T> (f: string): Promise<T> => await import(pathToFileURL(path.join(dir, f)).href) as T
  return { name, dir, duplex: await imp<DuplexMod>('transport/duplex.ts'), mconn: await imp<MConnMod>('conn/mconnection.ts') }
}

/** A transport that takes every write (recording it when asked) and delivers what the test pushes. */
function fakeDuplex (lib: Lib, record: Uint8Array[] | undefined): { conn: InstanceType<DuplexMod['AbstractDuplex']>, feed: (c: Uint8Array) => void, written: () => number } {
  let written = 0
  class Fake extends lib.duplex.AbstractDuplex {
    protected _write (chunk: Uint8Array): boolean {
      written += chunk.byteLength
      record?.push(chunk)
      return true
    }

    protected _readStop (): void {}
    protected _readStart (): void {}
    protected _end (): void {}
    protected _destroy (): void {}
    feed (c: Uint8Array): void { this.push(c) }
  }
  const conn = new Fake()
  return { conn, feed: (c) => { conn.feed(c) }, written: () => written }
}

const CH = 0x20
const init = { flushThrottleMs: 0, sendRate: 0, recvRate: 0, pingIntervalMs: 3_600_000, pongTimeoutMs: 1_800_000 }

function cpuUs (): number {
  const u = process.cpuUsage()
  return u.user + u.system
}

/** Sends `count` messages of `size`; returns CPU ns per payload byte. Records the written stream when asked. */
async function sendPath (lib: Lib, size: number, count: number, record?: Uint8Array[]): Promise<number> {
  const { conn } = fakeDuplex(lib, record)
  const mc = new lib.mconn.MConnection(conn, [{ id: CH, priority: 1, sendQueueCapacity: 100 }], init)
  mc.start()
  const msg = Buffer.alloc(size, 7)
  const t0 = cpuUs()
  for (let i = 0; i < count; i++) {
    if (!mc.trySend(CH, msg)) {
      // The queue is full: the loop runs at the end of the turn (flushThrottleMs 0); let it.
      await new Promise<void>((resolve) => { setImmediate(resolve) })
      if (!mc.trySend(CH, msg)) throw new Error('queue still full')
    }
  }
  await new Promise<void>((resolve) => { setImmediate(resolve) })
  const dt = cpuUs() - t0
  mc.stop()
  return dt * 1000 / (size * count)
}

/** Feeds the recorded stream in 64 KiB chunks to a receiving MConnection; returns CPU ns per payload byte. */
function recvPath (lib: Lib, chunks: Uint8Array[], payload: number, expectMessages: number): number {
  const { conn, feed } = fakeDuplex(lib, undefined)
  const mc = new lib.mconn.MConnection(conn, [{ id: CH, priority: 1, sendQueueCapacity: 100 }], init)
  let got = 0
  let bytes = 0
  mc.inbound$.subscribe(({ message }) => { got++; bytes += message.byteLength })
  mc.start()
  const t0 = cpuUs()
  for (const c of chunks) feed(c)
  const dt = cpuUs() - t0
  if (got !== expectMessages || bytes !== payload) throw new Error(`received ${got} messages / ${bytes} bytes, expected ${expectMessages} / ${payload}`)
  mc.stop()
  return dt * 1000 / payload
}

/** Re-cuts a stream into fresh 64 KiB Buffers (as socket reads arrive). */
function rechunk (parts: Uint8Array[], chunk = 65536): Uint8Array[] {
  const all = Buffer.concat(parts)
  const out: Uint8Array[] = []
  for (let i = 0; i < all.byteLength; i += chunk) out.push(Buffer.from(all.subarray(i, i + chunk)))
  return out
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  let sizes = [1024, 65536]
  let mib = 64
  let rounds = 7
  let only: string | undefined
  const libs: Array<[string, string]> = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--size') sizes = args[++i]!.split(',').map(Number)
    else if (a === '--mib') mib = Number(args[++i])
    else if (a === '--rounds') rounds = Number(args[++i])
    else if (a === '--only') only = args[++i]
    else if (a === '--lib') { const [n, d] = args[++i]!.split('='); libs.push([n!, path.resolve(d!)]) } else throw new Error(`unknown argument ${a}`)
  }
  if (libs.length === 0) libs.push(['tree', DEFAULT_LIB])
  const loaded = await Promise.all(libs.map(async ([n, d]) => await loadLib(n, d)))
  for (const size of sizes) {
    const count = Math.max(1, Math.round(mib * 2 ** 20 / size))
    const rec: Uint8Array[] = []
    await sendPath(loaded[0]!, size, count, rec)
    const chunks = rechunk(rec)
    const res = new Map<string, { send: number[], recv: number[] }>(loaded.map((l) => [l.name, { send: [], recv: [] }]))
    for (let r = 0; r < rounds + 1; r++) {
      for (const lib of loaded) {
        const s = only === 'recv' ? NaN : await sendPath(lib, size, count)
        const fresh = only === 'send' ? [] : chunks.map((c) => Buffer.from(c))
        const v = only === 'send' ? NaN : recvPath(lib, fresh, size * count, count)
        if (r > 0) { res.get(lib.name)!.send.push(s); res.get(lib.name)!.recv.push(v) }
      }
    }
    for (const [name, { send, recv }] of res) {
      const ms = median(send)
      const mr = median(recv)
      console.log(`${name.padEnd(8)} ${String(size).padStart(6)} B  send ${ms.toFixed(3)} ns/B (min ${Math.min(...send).toFixed(3)}; ${(1 / ms * 1000).toFixed(0)} MB/s/core)  recv ${mr.toFixed(3)} ns/B (min ${Math.min(...recv).toFixed(3)}; ${(1 / mr * 1000).toFixed(0)} MB/s/core)`)
    }
  }
}

await main()
