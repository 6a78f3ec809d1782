import { expect } from 'chai'
import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { actions, type Action } from '../../lib/switch/actions.js'
import { jsonCodec, protobufCodec, utf8Codec, withCodec } from '../../lib/switch/codec.js'
import { mapToActions } from '../../lib/switch/map-to-actions.js'
import { DecodeError } from '../../lib/errors.js'
import type { ReactorContext } from '../../lib/switch/reactor.js'
import { envelope, fakePeer, runReactor } from '../../lib/testing/reactor.js'

const CHAT = 0x80
const NUM = 0x81
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('switch/codec', () => {
  let scheduler: TestScheduler
  beforeEach(() => { scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) }) })

  it('utf8Codec and jsonCodec round-trip and refuse bad bytes with a DecodeError', () => {
    expect(utf8Codec.decode(utf8Codec.encode('héllo'))).to.equal('héllo')
    expect(() => utf8Codec.decode(Uint8Array.of(0xff, 0xfe))).to.throw(DecodeError)
    const json = jsonCodec<{ n: number }>((v) => typeof (v as { n?: unknown }).n === 'number')
    expect(json.decode(json.encode({ n: 3 }))).to.deep.equal({ n: 3 })
    expect(() => json.decode(bytes('{"n":'))).to.throw(DecodeError, 'invalid JSON')
    expect(() => json.decode(bytes('{"m":1}'))).to.throw(DecodeError, 'wrong shape')
  })

  it('protobufCodec wraps a protobufjs type and turns its errors into DecodeError', () => {
    const type = {
      encode: (m: { v: number }) => ({ finish: () => Uint8Array.of(m.v) }),
      decode: (b: Uint8Array) => { if (b.length !== 1) throw new Error('index out of range'); return { v: b[0]! } }
    }
    const codec = protobufCodec(type)
    expect(codec.decode(codec.encode({ v: 7 }))).to.deep.equal({ v: 7 })
    expect(() => codec.decode(new Uint8Array(3))).to.throw(DecodeError, 'protobuf: index out of range')
  })

  it('withCodec hands typed envelopes to the pipeline, encodes its actions, and stops a peer whose message does not decode', () => {
    const alice = fakePeer('alice')
    const mallory = fakePeer('mallory')
    const shout = withCodec(utf8Codec, (ctx) => ctx.envelopes$.pipe(
      mapToActions((env) => actions.broadcast(CHAT, env.message.toUpperCase(), { except: [env.from] }))
    ))
    let stopped: Action | undefined
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-a-x-b-', {
        a: envelope(alice, CHAT, 'hi'),
        x: envelope(mallory, CHAT, Uint8Array.of(0xc3, 0x28)),
        b: envelope(alice, CHAT, 'bye')
      })
      const out$ = runReactor(shout, { envelopes$ })
      out$.subscribe((a) => { if (a.type === 'stopPeer') stopped = a })
      expectObservable(out$).toBe('-a-s-b-', {
        a: actions.broadcast(CHAT, bytes('HI'), { except: [alice] }),
        s: actions.stopPeer(mallory, new DecodeError('invalid UTF-8')),
        b: actions.broadcast(CHAT, bytes('BYE'), { except: [alice] })
      })
    })
    expect(stopped?.type === 'stopPeer' && stopped.reason).to.be.instanceOf(DecodeError)
  })

  it('withCodec takes one codec per channel', () => {
    const alice = fakePeer('alice')
    type Msg = string | number
    const numberCodec = { encode: (n: Msg) => Uint8Array.of(Number(n)), decode: (b: Uint8Array): Msg => b[0]! }
    const textCodec = { encode: (s: Msg) => utf8Codec.encode(String(s)), decode: (b: Uint8Array): Msg => utf8Codec.decode(b) }
    const run = withCodec<Msg>({ [CHAT]: textCodec, [NUM]: numberCodec }, (ctx) => ctx.envelopes$.pipe(
      map((env) => actions.trySend(env.from, env.chId, typeof env.message === 'number' ? env.message + 1 : `${env.message}!`))
    ))
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-a-n-', { a: envelope(alice, CHAT, 'x'), n: envelope(alice, NUM, Uint8Array.of(41)) })
      expectObservable(runReactor(run, { envelopes$ })).toBe('-a-n-', {
        a: actions.trySend(alice, CHAT, bytes('x!')),
        n: actions.trySend(alice, NUM, Uint8Array.of(42))
      })
    })
  })

  it('withCodec subscribes the envelopes once for the pipeline and unsubscribes them with it', () => {
    const alice = fakePeer('alice')
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const envelopes$ = hot('-a-x-a-', { a: envelope(alice, CHAT, 'hi'), x: envelope(alice, CHAT, Uint8Array.of(0xff)) })
      const run = withCodec(utf8Codec, (ctx) => ctx.envelopes$.pipe(mapToActions((env) => actions.trySend(env.from, CHAT, env.message))))
      // the context alone, without runReactor's relay: withCodec's own subscription is what is seen
      const ctx = { envelopes$ } as unknown as ReactorContext
      expectObservable(run(ctx), '^----!').toBe('-a-s-', {
        a: actions.trySend(alice, CHAT, bytes('hi')),
        s: actions.stopPeer(alice, new DecodeError('invalid UTF-8'))
      })
      expectSubscriptions(envelopes$.subscriptions).toBe('^----!')
    })
  })
})
