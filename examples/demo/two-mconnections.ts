/**
 * `npm run demo`: two MConnections talking over TCP on 127.0.0.1.
 *
 * Alice dials Bob. They share three channels (consensus 0x20 priority 5, mempool 0x30 priority 3, blocksync 0x40
 * priority 1) and:
 * 1. exchange greetings;
 * 2. Alice gossips 200 small txs on the mempool channel as fast as the queue takes them;
 * 3. Alice sends a 4 MiB block on the low-priority channel and, while it is on its way, a vote on the
 *    high-priority one: the vote arrives long before the block;
 * 4. the connection idles across several ping intervals (short ones here): pings and pongs keep it up;
 * 5. Alice sends what is queued and closes (flushStop); Bob sees the remote close.
 *
 * It prints what happens and exits by itself.
 */
import { firstValueFrom } from 'rxjs'
import { type ChannelDescriptor, type DuplexConnection, TcpTransport } from '../../lib/index.js'
import { MConnection } from '../../lib/conn/index.js'

const CONSENSUS = 0x20
const MEMPOOL = 0x30
const BLOCKSYNC = 0x40
const channels: ChannelDescriptor[] = [
  { id: CONSENSUS, priority: 5, sendQueueCapacity: 10 },
  { id: MEMPOOL, priority: 3, sendQueueCapacity: 100 },
  { id: BLOCKSYNC, priority: 1, sendQueueCapacity: 2 }
]
const names: Record<number, string> = { [CONSENSUS]: 'consensus', [MEMPOOL]: 'mempool', [BLOCKSYNC]: 'blocksync' }

const t0 = Date.now()
const log = (who: string, what: string): void => {
  console.log(`${String(Date.now() - t0).padStart(5)} ms  ${who.padEnd(5)} ${what}`)
}
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)

async function main (): Promise<void> {
  const guard = setTimeout(() => { console.error('demo did not finish in 20 s'); process.exit(1) }, 20_000)
  const tcp = new TcpTransport()
  const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
  log('bob', `listening on ${listener.address.host}:${listener.address.port}`)
  const accepted = firstValueFrom(listener.connections$)
  const aliceConn: DuplexConnection = await tcp.dial(listener.address)
  const bobConn = await accepted
  log('alice', `connected to ${aliceConn.remoteAddress?.host}:${aliceConn.remoteAddress?.port}`)

  // Short keepalive so the demo shows a few pings; rate limits at CometBFT's defaults (5,120,000 B/s).
  const init = { pingIntervalMs: 400, pongTimeoutMs: 300 }
  const alice = new MConnection(aliceConn, channels, init)
  const bob = new MConnection(bobConn, channels, init)

  let txs = 0
  let blockQueuedAt = 0
  const blockArrived = new Promise<void>((resolve) => {
    bob.inbound$.subscribe(({ chId, message }) => {
      if (chId === MEMPOOL) {
        if (++txs % 50 === 0) log('bob', `received ${txs} txs on ${names[chId]}`)
      } else if (chId === BLOCKSYNC) {
        const ok = message.every((b, i) => b === (i & 0xff))
        const ms = Date.now() - blockQueuedAt
        log('bob', `received a block of ${(message.byteLength / 1024 / 1024).toFixed(0)} MiB on ${names[chId]} in ${ms} ms ` +
          `(${(message.byteLength / ms / 1000).toFixed(2)} MB/s, send/recv limit 5.12 MB/s), bytes ${ok ? 'intact' : 'CORRUPT'}`)
        resolve()
      } else {
        log('bob', `received "${dec(message)}" on ${names[chId]}`)
        if (dec(message).startsWith('hello')) bob.trySend(CONSENSUS, enc('hello Alice, Bob here'))
      }
    })
  })
  alice.inbound$.subscribe(({ chId, message }) => { log('alice', `received "${dec(message)}" on ${names[chId]}`) })
  bob.closed$.subscribe((reason) => { log('bob', `connection closed: ${reason === undefined ? 'locally' : `${reason.name} (${reason.message})`}`) })
  alice.closed$.subscribe((reason) => { log('alice', `connection closed: ${reason === undefined ? 'locally, after sending everything' : reason.name}`) })

  const block = Uint8Array.from({ length: 4 << 20 }, (_, i) => i & 0xff)
  alice.start()
  bob.start()

  // 1. greetings
  await alice.send(CONSENSUS, enc('hello Bob, Alice here'))
  await new Promise((resolve) => setTimeout(resolve, 50))

  // 2. gossip: send() waits for room in the 100-message queue, so this loop feels backpressure
  for (let i = 0; i < 200; i++) await alice.send(MEMPOOL, enc(`tx-${i}`))
  log('alice', 'queued 200 txs')

  // 3. a big message on a low-priority channel, then a small one on a high-priority channel
  blockQueuedAt = Date.now()
  await alice.send(BLOCKSYNC, block)
  log('alice', 'queued a 4 MiB block on blocksync (priority 1)')
  await new Promise((resolve) => setTimeout(resolve, 100))
  await alice.send(CONSENSUS, enc('vote for block 1 (sent 100 ms after the block)'))
  log('alice', 'queued a vote on consensus (priority 5)')
  await blockArrived

  // 4. keepalive: idle for three ping intervals
  await new Promise((resolve) => setTimeout(resolve, 1300))
  log('alice', `idle for 1.3 s (ping every ${init.pingIntervalMs} ms, pong timeout ${init.pongTimeoutMs} ms): ${alice.isClosed || bob.isClosed ? 'CLOSED' : 'still connected'}`)
  const s = alice.status()
  log('alice', `status: ${s.sendMonitor.bytes} bytes sent in ${s.duration} ms; per channel ` +
    s.channels.map((c) => `${names[c.id]} ${c.bytesSent} B (recentlySent ${c.recentlySent})`).join(', '))
  log('bob', `status: ${bob.status().recvMonitor.bytes} bytes received, peak ${(bob.status().recvMonitor.peakRate / 1e6).toFixed(2)} MB/s per 100 ms sample`)

  // 5. close
  await alice.send(CONSENSUS, enc('bye'))
  await alice.flushStop()
  await firstValueFrom(bob.closed$)
  await listener.close()
  clearTimeout(guard)
  log('demo', 'done')
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
