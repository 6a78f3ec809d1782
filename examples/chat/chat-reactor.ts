/**
 * A chat reactor: one channel, JSON messages, flooded to every node (each node relays a message it has not
 * seen to its other peers), so nodes that are not directly connected still talk.
 *
 * It shows the parts of the reactor API: a channel descriptor, a codec (a malformed message stops its sender
 * with a DecodeError), the reactor runtime (`statefulReactor`: a handler per input, one outlet), actions
 * built with `actions.*`, and commands from outside the network (`lines$`, what the user types; or
 * `chat.reactor.command(text)`) handled like any other input.
 */
import { randomBytes } from 'node:crypto'
import { Subject, type Observable } from 'rxjs'
import { actions, jsonCodec, statefulReactor, type StatefulReactor } from '../../lib/index.js'

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
export function createChat (init: ChatInit): { reactor: StatefulReactor<string>, display$: Observable<ChatLine> } {
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
  const reactor = statefulReactor<undefined, string, ChatMessage>({
    name: 'chat',
    channels: [{ id: CHAT_CHANNEL, priority: 1, sendQueueCapacity: 100, recvMessageCapacity: 4096 }],
    codec: chatCodec,
    state: undefined,
    // messages from peers: show and relay the ones we have not seen
    envelope: (scope, env) => {
      if (!remember(env.message.id)) return
      display.next({ kind: 'message', message: env.message, via: env.from.nodeInfo.moniker })
      scope.emit(actions.broadcast(CHAT_CHANNEL, env.message, { except: [env.from] }))
    },
    // what we type: show and send to everyone
    commands$: init.lines$,
    command: (scope, text) => {
      if (text.trim().length === 0) return
      const message: ChatMessage = { id: `${init.nick}:${session}:${++counter}`, nick: init.nick, text: text.slice(0, 1000) }
      remember(message.id)
      display.next({ kind: 'message', message, via: undefined })
      scope.emit(actions.broadcast(CHAT_CHANNEL, message))
    },
    // peers coming and going
    peerEvent: (_scope, e) => {
      if (e.type !== 'added' && e.type !== 'removed') return
      const who = e.peer.nodeInfo.moniker
      display.next({ kind: 'peer', text: e.type === 'added' ? `${who} joined` : `${who} left${e.reason === undefined ? '' : ` (${e.reason.message})`}` })
    },
    outputs: [display]
  })
  return { reactor, display$: display.asObservable() }
}
