/**
 * Builds the Go peer (`bench/go/`, CometBFT's `p2p/conn` as a library) with `go build` into the bench cache,
 * `${RX_P2P_CACHE:-~/.cache/rx-p2p}/bench-go/mconn-bench-<variant>-<hash>`, where the hash covers the Go
 * sources, the variant's module file and its sums, and `go version`: an unchanged program is reused, a changed
 * one rebuilt. Variants: `v0.38` (`go.mod`, CometBFT v0.38.26) and `v1.0` (`go.v1.mod`, v1.0.1). Without Go on
 * the PATH (or `$GO`) the build resolves with the reason to skip instead of failing.
 *
 * @module
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The Go program's directory (`bench/go/`). */
export const GO_DIR = path.dirname(fileURLToPath(import.meta.url))

/** The CometBFT versions the Go peer is built against: the module file of each. */
export const GO_VARIANTS = {
  'v0.38': { modfile: 'go.mod', sumfile: 'go.sum', cometbft: 'v0.38.26' },
  'v1.0': { modfile: 'go.v1.mod', sumfile: 'go.v1.sum', cometbft: 'v1.0.1' }
} as const

/** A variant name. */
export type GoVariant = keyof typeof GO_VARIANTS

/** The built program, or why there is none. */
export type GoBuild = { binary: string, goVersion: string, built: boolean } | { skip: string }

function run (cmd: string, args: string[], cwd: string): Promise<{ stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, maxBuffer: 16 * 1024 * 1024, env: process.env }, (err, stdout, stderr) => {
      if (err !== null) {
        const e = err as Error & { code?: unknown }
        e.message = `${e.message}\n${stderr}`
        reject(e)
      } else {
        resolve({ stdout, stderr })
      }
    })
  })
}

/** The cache directory for built Go programs. */
export function cacheDir (): string {
  const root = process.env.RX_P2P_CACHE ?? path.join(os.homedir(), '.cache', 'rx-p2p')
  return path.join(root, 'bench-go')
}

function sourceHash (goVersion: string, variant: GoVariant): string {
  const v = GO_VARIANTS[variant]
  const h = createHash('sha256').update(goVersion)
  const files = fs.readdirSync(GO_DIR).filter((f) => f.endsWith('.go') || f === v.modfile || f === v.sumfile).sort()
  for (const f of files) h.update(`\0${f}\0`).update(fs.readFileSync(path.join(GO_DIR, f)))
  return h.digest('hex').slice(0, 16)
}

async function build (variant: GoVariant, log: (s: string) => void): Promise<GoBuild> {
  const go = process.env.GO ?? 'go'
  let goVersion: string
  try {
    goVersion = (await run(go, ['version'], GO_DIR)).stdout.trim()
  } catch (err) {
    const code = (err as { code?: unknown }).code
    return { skip: code === 'ENOENT' ? `Go not found ('${go}' is not on the PATH; set $GO or install Go >= 1.22.11)` : `'${go} version' failed: ${(err as Error).message.split('\n')[0] ?? ''}` }
  }
  const dir = cacheDir()
  const prefix = `mconn-bench-${variant}-`
  const binary = path.join(dir, prefix + sourceHash(goVersion, variant))
  if (fs.existsSync(binary)) return { binary, goVersion, built: false }
  fs.mkdirSync(dir, { recursive: true })
  const tmp = `${binary}.tmp-${process.pid}`
  log(`  building the Go peer (CometBFT ${GO_VARIANTS[variant].cometbft}) with ${goVersion} → ${binary}`)
  const t0 = performance.now()
  await run(go, ['build', `-modfile=${GO_VARIANTS[variant].modfile}`, '-trimpath', '-o', tmp, '.'], GO_DIR)
  fs.renameSync(tmp, binary)
  log(`  built in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  for (const f of fs.readdirSync(dir)) {
    const p = path.join(dir, f)
    if (f.startsWith(prefix) && p !== binary && !f.includes('.tmp-')) fs.rmSync(p, { force: true })
  }
  return { binary, goVersion, built: true }
}

const once = new Map<GoVariant, Promise<GoBuild>>()

/** Builds the Go peer for `variant` once per run (later calls share the result); rejects when `go build` fails. */
export async function goPeer (log: (s: string) => void, variant: GoVariant = 'v0.38'): Promise<GoBuild> {
  let p = once.get(variant)
  if (p === undefined) {
    p = build(variant, log)
    once.set(variant, p)
  }
  return await p
}
