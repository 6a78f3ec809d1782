// Minimal declarations for the Holepunch modules the bench uses (they ship no types).

declare module 'framed-stream' {
  import type { Duplex } from 'node:stream'
  export default class FramedStream extends Duplex {
    constructor (rawStream: unknown, opts?: { bits?: 8 | 16 | 24 | 32 })
  }
}

declare module '@hyperswarm/secret-stream' {
  import type { Duplex } from 'node:stream'
  export interface KeyPair { publicKey: Buffer, secretKey: Buffer }
  export default class NoiseSecretStream extends Duplex {
    constructor (isInitiator: boolean, rawStream: unknown, opts?: { keyPair?: KeyPair, pattern?: string })
    static keyPair (seed?: Uint8Array): KeyPair
    readonly opened: Promise<boolean>
    readonly remotePublicKey: Buffer | null
  }
}

declare module 'compact-encoding' {
  export interface Encoding<T> {
    preencode (state: unknown, m: T): void
    encode (state: unknown, m: T): void
    decode (state: unknown): T
  }
  export const raw: Encoding<Uint8Array>
  const c: { raw: Encoding<Uint8Array> }
  export default c
}

declare module 'protomux' {
  import type { Encoding } from 'compact-encoding'
  export interface ProtomuxMessage<T> { send (m: T): boolean }
  export interface ProtomuxChannel {
    addMessage<T> (opts: { encoding: Encoding<T>, onmessage?: (m: T) => void }): ProtomuxMessage<T>
    open (handshake?: unknown): void
    fullyOpened (): Promise<boolean>
    close (): void
    cork (): void
    uncork (): void
    readonly drained: boolean
  }
  export default class Protomux {
    constructor (stream: unknown, opts?: Record<string, unknown>)
    static from (stream: unknown, opts?: Record<string, unknown>): Protomux
    createChannel (opts: {
      protocol: string
      id?: Uint8Array
      unique?: boolean
      onopen?: () => void
      onclose?: () => void
      ondrain?: () => void
    }): ProtomuxChannel | null
    cork (): void
    uncork (): void
    readonly drained: boolean
  }
}
