/**
 * The reference codec of the MConnection `Packet`: the same messages as `lib/wire/packet.ts`, through protobufjs
 * (reflection). Nothing in `lib/` uses it: the specs and the fuzz targets hold the hand-written, in-place codec
 * byte-equal to it and check that it fails only with rx-p2p's typed errors.
 */
import protobuf from 'protobufjs/light.js'
import { DecodeError, P2PError, UnknownPacketTypeError } from '../../lib/errors.js'
import type { Packet } from '../../lib/wire/packet.js'

const root = protobuf.Root.fromJSON({
  nested: {
    tendermint: {
      nested: {
        p2p: {
          nested: {
            PacketPing: { fields: {} },
            PacketPong: { fields: {} },
            PacketMsg: {
              fields: {
                channelId: { type: 'int32', id: 1 },
                eof: { type: 'bool', id: 2 },
                data: { type: 'bytes', id: 3 }
              }
            },
            Packet: {
              oneofs: { sum: { oneof: ['packetPing', 'packetPong', 'packetMsg'] } },
              fields: {
                packetPing: { type: 'PacketPing', id: 1 },
                packetPong: { type: 'PacketPong', id: 2 },
                packetMsg: { type: 'PacketMsg', id: 3 }
              }
            }
          }
        }
      }
    }
  }
})

/** The protobufjs type of `tendermint.p2p.Packet`. */
export const PacketProtoType: protobuf.Type = root.lookupType('tendermint.p2p.Packet')

interface PacketProtoMessage {
  packetPing?: object
  packetPong?: object
  packetMsg?: { channelId?: number, eof?: boolean, data?: Uint8Array }
  sum?: string
}

/**
 * Encodes a Packet through protobufjs (no length prefix). Default values (channel 0, `eof` false, empty data)
 * are omitted, as in Go.
 */
export function encodePacketProtobuf (packet: Packet): Uint8Array {
  let message: PacketProtoMessage
  if (packet.type === 'ping') message = { packetPing: {} }
  else if (packet.type === 'pong') message = { packetPong: {} }
  else {
    const id = packet.channelId
    if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) throw new RangeError(`channelId must be an int32 >= 0, got ${id}`)
    const msg: { channelId?: number, eof?: boolean, data?: Uint8Array } = {}
    if (packet.channelId !== 0) msg.channelId = packet.channelId
    if (packet.eof) msg.eof = true
    if (packet.data.byteLength > 0) msg.data = packet.data
    message = { packetMsg: msg }
  }
  return PacketProtoType.encode(message).finish()
}

/**
 * Decodes a Packet through protobufjs (no length prefix). Failures are reported as rx-p2p errors.
 *
 * @throws {DecodeError} malformed protobuf
 * @throws {UnknownPacketTypeError} no oneof case is set
 */
export function decodePacketProtobuf (bytes: Uint8Array): Packet {
  let message: PacketProtoMessage
  try {
    message = PacketProtoType.decode(bytes) as unknown as PacketProtoMessage
  } catch (err) {
    if (err instanceof P2PError) throw err
    throw new DecodeError(`malformed Packet: ${(err as Error).message}`, { cause: err })
  }
  switch (message.sum) {
    case 'packetPing': return { type: 'ping' }
    case 'packetPong': return { type: 'pong' }
    case 'packetMsg': {
      const m = message.packetMsg!
      return { type: 'msg', channelId: m.channelId ?? 0, eof: m.eof ?? false, data: m.data ?? new Uint8Array(0) }
    }
    default:
      throw new UnknownPacketTypeError('packet has no known type (oneof unset or unknown)')
  }
}
