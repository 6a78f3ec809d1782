/**
 * Request and answer over a child process's IPC channel, as the attack harness, the network-namespace hosts and
 * the soak use it: the parent sends `{ op, seq, ...extra }`, the child answers `{ seq, ...result }` or
 * `{ seq, error }`. Messages without a pending `seq` (a child's `{ op: 'ready' }`) go to `onOther`.
 */
import type { ChildProcess } from 'node:child_process'

/** Sends one request and resolves with the child's answer; rejects with its `error`, or when it has exited. */
export type IpcCall = (op: string, extra?: Record<string, unknown>) => Promise<any>

/** A caller of `child`'s ops; `what` names the child in errors. */
export function ipcCaller (child: ChildProcess, what: string, onOther: (msg: any) => void = () => {}): IpcCall {
  let seq = 0
  const pending = new Map<number, (msg: any) => void>()
  child.on('message', (msg: any) => {
    const fn = typeof msg?.seq === 'number' ? pending.get(msg.seq) : undefined
    if (fn !== undefined) fn(msg)
    else onOther(msg)
  })
  child.once('exit', (code, signal) => {
    for (const fn of pending.values()) fn({ error: `${what} exited (${code ?? signal})` })
  })
  return (op, extra = {}) => new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      reject(new Error(`${what} has exited (${child.exitCode ?? child.signalCode})`))
      return
    }
    const n = ++seq
    pending.set(n, (msg) => {
      pending.delete(n)
      if (typeof msg.error === 'string') reject(new Error(msg.error))
      else resolve(msg)
    })
    child.send({ op, seq: n, ...extra })
  })
}
