import { expect } from 'chai'
import { RecvBudget } from '../../lib/conn/recv-budget.js'
import { RecvBudgetExceededError } from '../../lib/errors.js'

describe('conn/RecvBudget', () => {
  it('counts what its children take and give against itself too, and refuses a child past its own limit', () => {
    const node = new RecvBudget({ limit: 100 })
    const a = new RecvBudget({ limit: 60, kind: 'connection', parent: node })
    const b = new RecvBudget({ limit: 60, kind: 'connection', parent: node })
    a.take(50)
    b.take(30)
    expect([a.used, b.used, node.used]).to.deep.equal([50, 30, 80])
    let err: unknown
    try { a.take(20) } catch (e) { err = e }
    expect(err).to.be.instanceOf(RecvBudgetExceededError)
    expect(err).to.deep.include({ budget: 'connection', requested: 20, used: 50, limit: 60 })
    expect(node.used).to.equal(80) // a refused take leaves every count as it was
    a.give(50)
    expect(node.used).to.equal(30)
    b.close()
    expect(node.used).to.equal(0)
    expect(node.children).to.equal(1)
  })

  it('at the node limit stops the connection holding the most, then grants the take', () => {
    const node = new RecvBudget({ limit: 100 })
    const evicted: string[] = []
    const conn = (name: string): RecvBudget => {
      const budget: RecvBudget = new RecvBudget({
        limit: 100,
        kind: 'connection',
        parent: node,
        onEvict: (reason) => { evicted.push(`${name}:${reason.budget}`); budget.close() }
      })
      return budget
    }
    const big = conn('big')
    const mid = conn('mid')
    const honest = conn('honest')
    big.take(60)
    mid.take(30)
    honest.take(5)
    honest.take(10) // 105 > 100: big goes
    expect(evicted).to.deep.equal(['big:node'])
    expect(node.used).to.equal(45)
    expect(honest.used).to.equal(15)
  })

  it('refuses the connection asking when it would hold the most itself', () => {
    const node = new RecvBudget({ limit: 100 })
    const evicted: number[] = []
    const a = new RecvBudget({ limit: 100, kind: 'connection', parent: node, onEvict: () => { evicted.push(1) } })
    const b = new RecvBudget({ limit: 100, kind: 'connection', parent: node, onEvict: () => { evicted.push(2) } })
    a.take(50)
    b.take(40)
    let err: unknown
    try { b.take(20) } catch (e) { err = e } // b would hold 60 > a's 50: b is the one to stop
    expect(err).to.be.instanceOf(RecvBudgetExceededError)
    expect(err).to.deep.include({ budget: 'node', requested: 20, used: 90, limit: 100 })
    expect(evicted).to.deep.equal([])
    expect([a.used, b.used, node.used]).to.deep.equal([50, 40, 90])
  })

  it('rejects a limit that is not a positive integer', () => {
    expect(() => new RecvBudget({ limit: 0 })).to.throw(RangeError)
    expect(() => new RecvBudget({ limit: 1.5 })).to.throw(RangeError)
    expect(new RecvBudget({ limit: Infinity }).limit).to.equal(Infinity)
  })
})
