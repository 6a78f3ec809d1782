/**
 * A chat reactor: one channel, JSON messages, flooded to every node (each node relays a message it has not
 * seen to its other peers), so nodes that are not directly connected still talk.
 *
 * It shows the parts of the reactor API: a channel descriptor, a codec (a malformed message stops its sender
 * with a DecodeError), `mapToActions`, actions built with `actions.*`, and inputs from outside the network
 * (`lines$`, what the user types) merged into the same pipeline.
 */
import { randomBytes } from 'node:crypto'
import { filter, ignoreElements, map, merge, Subject, tap, type Observable } from 'rxjs'
import { actions, jsonCodec, mapToActions, ofEventType, withCodec, type Reactor } from '../../lib/index.js'

/** The chat channel: a byte CometBFT does not use. */
export const CHAT_CHANNEL = 0xc7

/** One chat line on the wire. */
export interface ChatMessage {
  /** Unique per message: `<nick>:<session>:<counter>`. */
  id: string
  /** Who wrote it. */
  nick: string
  /** What they wrote (at most 1000 characters). */
  text: string
}

const chatCodec = jsonCodec<ChatMessage>((v) => {
  const m = v as Partial<ChatMessage>
  return typeof m === 'object' && m !== null &&
    typeof m.id === 'string' && m.id.length <= 80 &&
    typeof m.nick === 'string' && m.nick.length <= 32 &&
    typeof m.text === 'string' && m.text.length <= 1000
})

/** What the chat shows: a message (ours or someone else's) or a line about a peer. */
export type ChatLine =
  | { kind: 'message', message: ChatMessage, via: string | undefined }
  | { kind: 'peer', text: string }

/** Options of {@link createChat}. */
export interface ChatInit {
  /** Our nickname. */
  nick: string
  /** Hot: what the user types; each line is sent to everyone. */
  lines$: Observable<string>
  /** How many message IDs to remember for de-duplication. @default 10000 */
  memory?: number
}

/**
 * Builds the chat reactor and the stream of lines to display.
 *
 * @example
 * ```ts
 * const chat = createChat({ nick: 'alice', lines$ })
 * const sw = new Switch({ nodeKey, reactors: [chat.reactor], listenAddress: '127.0.0.1:26701' })
 * chat.display$.subscribe((line) => console.log(line))
 * ```
 */
export function createChat (init: ChatInit): { reactor: Reactor, display$: Observable<ChatLine> } {
  const display = new Subject<ChatLine>()
  const seen = new Set<string>()
  const memory = init.memory ?? 10_000
  const remember = (id: string): boolean => {
    if (seen.has(id)) return false
    seen.add(id)
    if (seen.size > memory) seen.delete(seen.values().next().value!)
    return true
  }
  // unique across restarts of the same node: a random session tag and a counter
  const session = randomBytes(4).toString('hex')
  let counter = 0
  const reactor: Reactor = {
    name: 'chat',
    channels: [{ id: CHAT_CHANNEL, priority: 1, sendQueueCapacity: 100, recvMessageCapacity: 4096 }],
    run: withCodec(chatCodec, (ctx) => merge(
      // messages from peers: show and relay the ones we have not seen
      ctx.envelopes$.pipe(
        filter((env) => remember(env.message.id)),
        mapToActions((env) => {
          display.next({ kind: 'message', message: env.message, via: env.from.nodeInfo.moniker })
          return actions.broadcast(CHAT_CHANNEL, env.message, { except: [env.from] })
        })
      ),
      // what we type: show and send to everyone
      init.lines$.pipe(
        filter((text) => text.trim().length > 0),
        map((text) => {
          const message: ChatMessage = { id: `${init.nick}:${session}:${++counter}`, nick: init.nick, text: text.slice(0, 1000) }
          remember(message.id)
          display.next({ kind: 'message', message, via: undefined })
          return actions.broadcast(CHAT_CHANNEL, message)
        })
      ),
      // peers coming and going
      ctx.peerEvents$.pipe(
        ofEventType('added', 'removed'),
        tap((e) => {
          const who = e.peer.nodeInfo.moniker
          display.next({ kind: 'peer', text: e.type === 'added' ? `${who} joined` : `${who} left${e.reason === undefined ? '' : ` (${e.reason.message})`}` })
        }),
        ignoreElements()
      )
    ))
  }
  return { reactor, display$: display.asObservable() }
}

