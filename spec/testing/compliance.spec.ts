/**
 * The compliance suites of `rx-p2p/testing` outside mocha: importing the barrel loads no test framework, a suite
 * without globals and without an API refuses with a TypeError, and under node:test (its own describe/it) the
 * duplex suite registers and passes. Run in a child process, where mocha's globals and modules are absent.
 */
import { expect } from 'chai'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const LIB = fileURLToPath(new URL('../../lib/', import.meta.url))

/** Refuses to resolve mocha or chai: the child fails loudly if anything under lib/testing imports them. */
const NO_TEST_FRAMEWORK_HOOK = `
export async function resolve (specifier, context, next) {
  if (/^(mocha|chai)(\\/|$)/.test(specifier)) throw new Error('test framework imported: ' + specifier + ' from ' + context.parentURL)
  return next(specifier, context)
}
`

const CHILD = `
import { register } from 'node:module'
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(NO_TEST_FRAMEWORK_HOOK)}))
const { describe, it, beforeEach, afterEach } = await import('node:test')
const testing = await import(${JSON.stringify(pathToFileURL(path.join(LIB, 'testing/index.ts')).href)})
try {
  testing.duplexCompliance('no api', async () => ({}))
  console.log('REFUSAL none')
} catch (e) {
  console.log('REFUSAL ' + e.name + ': ' + e.message)
}
testing.duplexCompliance('memoryPair under node:test', async () => {
  const [a, b] = testing.memoryPair()
  return { a, b, close: async () => {} }
}, { describe, it, beforeEach, afterEach })
`

describe('testing/compliance', () => {
  it('rx-p2p/testing loads without mocha or chai; without globals a suite needs { describe, it, beforeEach, afterEach }; under node:test the duplex suite passes', function () {
    this.timeout(60_000)
    const dir = mkdtempSync(path.join(tmpdir(), 'rx-p2p-compliance-'))
    try {
      const file = path.join(dir, 'child.mjs')
      writeFileSync(file, CHILD)
      const run = spawnSync(process.execPath, ['--test-reporter=tap', '--import', 'tsx', file], { encoding: 'utf8', cwd: fileURLToPath(new URL('../../', import.meta.url)), timeout: 55_000 })
      const out = `${run.stdout}\n${run.stderr}`
      expect(out).to.not.match(/test framework imported/)
      expect(out).to.match(/REFUSAL TypeError: no global describe\(\)/)
      expect(out).to.match(/^# pass 8$/m)
      expect(out).to.match(/^# fail 0$/m)
      expect(run.status, out).to.equal(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
