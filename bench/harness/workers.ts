/**
 * Spawning bench workers: a Node worker running a stack from `bench/stacks/` (through tsx), or any external
 * program that speaks the control protocol on fd 3 (a Go peer under `bench/go/`, for instance).
 *
 * @module
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import * as os from 'node:os'
import type * as net from 'node:net'
import { fileURLToPath } from 'node:url'
import * as path from 'node:path'
import { ControlChannel } from './control.js'
import type { StackParams } from './stack.js'

/** Where the bench lives (the `bench/` directory). */
export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** How to start one end of a connection under test. */
export type WorkerSpec =
  | { stack: string, params?: StackParams, nodeArgs?: string[] }
  | { command: string, args?: string[], cwd?: string, params?: StackParams }

/** A running worker. */
export interface Worker {
  readonly ctl: ControlChannel
  readonly proc: ChildProcess
  readonly spec: WorkerSpec
  /** Asks the worker to exit and waits for it (kills it after a grace period). */
  stop (): Promise<void>
}

/** Extra Node flags for every Node worker (`--max-semi-space-size=1`) or one role (`receiver:--trace-gc`), set by the CLI. */
export const nodeWorkerFlags: string[] = []

function flagsFor (role: string): string[] {
  return nodeWorkerFlags.flatMap((f) => {
    const m = /^(\w+):(--.*)$/.exec(f)
    if (m === null) return [f]
    return m[1] === role ? [m[2]!] : []
  })
}

/** When set, Node workers write V8 CPU profiles to `<dir>/<role>/` (`--cpu-prof`). */
export const profiling: { dir: string | undefined } = { dir: undefined }

/**
 * CPU pinning: with two or more cores and `taskset` available, the sender runs on CPU 0 and the receiver on
 * CPU 1, so that every case sees the same placement (a loopback round trip costs about 20 µs when both ends
 * share a core and about 55 µs across cores; unpinned, the kernel picks either from run to run).
 */
export const pinning = { enabled: os.cpus().length >= 2 && hasTaskset(), cpus: { sender: 0, receiver: 1 } as Record<string, number> }

function hasTaskset (): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Starts a worker; for a Node stack worker, also loads the stack. */
export async function startWorker (spec: WorkerSpec, name: string): Promise<Worker> {
  const stdio: Array<'ignore' | 'inherit' | 'pipe'> = ['ignore', 'inherit', 'inherit', 'pipe']
  let [cmd, args] = 'stack' in spec
    ? [process.execPath, ['--import', 'tsx', ...flagsFor(name), ...(profiling.dir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profiling.dir, name)}`] : []), ...(spec.nodeArgs ?? []), path.join(BENCH_DIR, 'harness', 'worker.ts'), name]]
    : [spec.command, spec.args ?? []]
  const cpu = pinning.cpus[name]
  if (pinning.enabled && cpu !== undefined) [cmd, args] = ['taskset', ['-c', String(cpu), cmd, ...args]]
  const proc = spawn(cmd, args, { cwd: 'stack' in spec ? BENCH_DIR : spec.cwd ?? BENCH_DIR, stdio, env: { ...process.env, RX_BENCH_ROLE: name } })
  const ctl = new ControlChannel(proc.stdio[3] as net.Socket)
  const exited = new Promise<void>((resolve) => { proc.once('exit', () => { resolve() }) })
  const worker: Worker = {
    ctl,
    proc,
    spec,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      ctl.send({ op: 'exit' })
      const t = setTimeout(() => { proc.kill('SIGKILL') }, 5000)
      await exited
      clearTimeout(t)
      ctl.close()
    }
  }
  if ('stack' in spec) await ctl.request({ op: 'load', stack: spec.stack }, 'loaded')
  return worker
}
