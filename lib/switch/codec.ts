/**
 * Codecs: typed messages on a channel. A codec turns bytes into a typed message and back; {@link withCodec}
 * wraps a typed reactor pipeline so that it sees decoded envelopes and returns typed actions.
 *
 * @module
 */
import { map, Observable, share, Subject } from 'rxjs'
import { DecodeError } from '../errors.js'
import { actions, type Action } from './actions.js'
import type { Envelope } from './envelope.js'
import type { ReactorContext, ReactorRun } from './reactor.js'

/**
 * Bytes to a typed message and back. `decode` throws on bad input (preferably a `DecodeError`; anything
 * else is wrapped in one).
 */
export interface Codec<T> {
  /** The message's bytes on the wire. */
  encode (message: T): Uint8Array
  /** The message from its bytes; throws on malformed input. */
  decode (bytes: Uint8Array): T
}

/** One codec per channel ID, for a reactor whose channels carry different message types. */
export type ChannelCodecs<T> = Readonly<Record<number, Codec<T>>>

/**
 * UTF-8 text. Invalid UTF-8 is a `DecodeError`.
 *
 * @example
 * ```ts
 * utf8Codec.decode(utf8Codec.encode('hé')) // 'hé'
 * ```
 */
export const utf8Codec: Codec<string> = {
  encode: (message) => new TextEncoder().encode(message),
  decode: (bytes) => {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    } catch (err) {
      throw new DecodeError('invalid UTF-8', { cause: err })
    }
  }
}

/**
 * JSON in UTF-8, with an optional check of the decoded value's shape (`validate` throws or returns false to
 * refuse it).
 *
 * @example
 * ```ts
 * const codec = jsonCodec<{ text: string }>((v) => typeof (v as any)?.text === 'string')
 * ```
 */
export function jsonCodec<T> (validate?: (value: unknown) => boolean): Codec<T> {
  return {
    encode: (message) => new TextEncoder().encode(JSON.stringify(message)),
    decode: (bytes) => {
      let value: unknown
      try {
        value = JSON.parse(utf8Codec.decode(bytes))
      } catch (err) {
        throw err instanceof DecodeError ? err : new DecodeError('invalid JSON', { cause: err })
      }
      if (validate !== undefined && !validate(value)) throw new DecodeError('JSON message has the wrong shape')
      return value as T
    }
  }
}

/**
 * A codec from a protobufjs message type (static code or reflection: anything with
 * `encode(m).finish()` and `decode(bytes)`).
 *
 * @example
 * ```ts
 * const codec = protobufCodec(root.lookupType('tendermint.p2p.PexRequest'))
 * ```
 */
export function protobufCodec<T> (type: { encode (message: T): { finish (): Uint8Array }, decode (bytes: Uint8Array): T }): Codec<T> {
  return {
    encode: (message) => type.encode(message).finish(),
    decode: (bytes) => {
      try {
        return type.decode(bytes)
      } catch (err) {
        throw new DecodeError(`protobuf: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
      }
    }
  }
}

function codecFor<T> (codecs: Codec<T> | ChannelCodecs<T>, chId: number): Codec<T> {
  if (typeof (codecs as Codec<T>).decode === 'function') return codecs as Codec<T>
  const codec = (codecs as ChannelCodecs<T>)[chId]
  if (codec === undefined) throw new DecodeError(`no codec for channel 0x${chId.toString(16).padStart(2, '0')}`)
  return codec
}

/** Decodes with `codec`, turning any failure into a DecodeError. */
function decodeOrThrow<T> (codec: Codec<T>, bytes: Uint8Array): T {
  try {
    return codec.decode(bytes)
  } catch (err) {
    if (err instanceof DecodeError) throw err
    throw new DecodeError(`cannot decode message: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

/**
 * Wraps a typed reactor pipeline: envelopes are decoded before it sees them and the messages of its `send` and
 * `broadcast` actions are encoded after. A message that does not decode never reaches the pipeline; its
 * sender is stopped with the `DecodeError` (as CometBFT stops a peer whose message does not unmarshal).
 *
 * `codecs` is one codec for all the reactor's channels or one per channel ID.
 *
 * ```
 * envelopes$ (bytes):  --a--x--b--|     x does not decode
 * run sees (typed):    --A-----B--|
 * result:              --s--S--s--|     S = actions.stopPeer(x.from, DecodeError)
 * ```
 *
 * @example
 * ```ts
 * const chat: Reactor = {
 *   name: 'chat',
 *   channels: [{ id: CHAT, priority: 1, sendQueueCapacity: 100 }],
 *   run: withCodec(utf8Codec, (ctx) => ctx.envelopes$.pipe(
 *     mapToActions((env) => actions.broadcast(CHAT, env.message.toUpperCase(), { except: [env.from] }))
 *   ))
 * }
 * ```
 */
export function withCodec<T> (codecs: Codec<T> | ChannelCodecs<T>, run: ReactorRun<T>): ReactorRun {
  return (ctx: ReactorContext): Observable<Action> => {
    const failures = new Subject<Action>()
    const decoded$ = new Observable<Envelope<T>>((subscriber) => ctx.envelopes$.subscribe({
      next: (envelope) => {
        let message: T
        try {
          message = decodeOrThrow(codecFor(codecs, envelope.chId), envelope.message)
        } catch (err) {
          failures.next(actions.stopPeer(envelope.from, err as Error))
          return
        }
        subscriber.next({ from: envelope.from, chId: envelope.chId, message })
      },
      error: (err) => { subscriber.error(err) },
      complete: () => { subscriber.complete() }
    })).pipe(share())
    const typedCtx: ReactorContext<T> = Object.create(ctx, { envelopes$: { value: decoded$, enumerable: true } })
    return new Observable<Action>((subscriber) => {
      const sub = failures.subscribe((action) => { subscriber.next(action) })
      sub.add(run(typedCtx).pipe(map((action) => encodeAction(codecs, action))).subscribe(subscriber))
      return sub
    })
  }
}

function encodeAction<T> (codecs: Codec<T> | ChannelCodecs<T>, action: Action<T>): Action {
  switch (action.type) {
    case 'send':
    case 'broadcast':
      return { ...action, message: codecFor(codecs, action.chId).encode(action.message) }
    default:
      return action
  }
}
