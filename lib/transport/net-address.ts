/**
 * `NetAddress`: a node ID with a host and port, as CometBFT writes it (`id@host:port`).
 *
 * @module
 */
import { isIP } from 'node:net'
import { InvalidAddressError } from '../errors.js'

/** A node ID: 40 lowercase hex characters (the first 20 bytes of SHA-256 of the node's ed25519 key). */
export type NodeId = string

const NODE_ID_RE = /^[0-9a-fA-F]{40}$/

/** True when `id` is 40 hex characters (either case, as Go's hex decoder accepts). */
export function isValidNodeId (id: string): boolean {
  return NODE_ID_RE.test(id)
}

/**
 * Checks and normalizes a node ID to lowercase.
 *
 * @throws {InvalidAddressError} not 40 hex characters
 */
export function parseNodeId (id: string): NodeId {
  if (!isValidNodeId(id)) throw new InvalidAddressError(`invalid node ID ${JSON.stringify(id)}: want 40 hex characters`)
  return id.toLowerCase()
}

/**
 * A peer address: node ID (may be empty), host and port.
 *
 * @example
 * ```ts
 * const addr = NetAddress.parse('tcp://56475aa75463474c0285df5dbf2bcab73da65135@127.0.0.1:26656')
 * addr.id     // '56475aa75463474c0285df5dbf2bcab73da65135'
 * addr.toString() // '56475aa7...@127.0.0.1:26656'
 * ```
 */
export class NetAddress {
  /** @param id lowercase node ID, or '' when unknown @param host an IP (v4 or v6, without brackets) or a hostname */
  constructor (readonly id: NodeId, readonly host: string, readonly port: number) {}

  /**
   * Parses `[scheme://][id@]host:port`. IPv6 hosts go in brackets. A hostname is kept as it is (see
   * {@link NetAddress.resolve} for DNS).
   *
   * @param requireId reject an address without `id@` (default true)
   * @throws {InvalidAddressError} naming what is wrong
   */
  static parse (input: string, requireId = true): NetAddress {
    let rest = input.trim()
    const scheme = rest.indexOf('://')
    if (scheme >= 0) rest = rest.slice(scheme + 3)
    let id = ''
    const at = rest.lastIndexOf('@')
    if (at >= 0) {
      id = parseNodeId(rest.slice(0, at))
      rest = rest.slice(at + 1)
    } else if (requireId) {
      throw new InvalidAddressError(`address ${JSON.stringify(input)} has no node ID: want id@host:port`)
    }
    const { host, port } = splitHostPort(rest, input)
    return new NetAddress(id, host, port)
  }

  /** Builds an address from a host and port without a node ID check beyond the format. */
  static from (id: string, host: string, port: number): NetAddress {
    if (id !== '') id = parseNodeId(id)
    checkHost(host, `${host}:${port}`)
    checkPort(port, `${host}:${port}`)
    return new NetAddress(id, host, port)
  }

  /** True when the host is an IP literal (not a hostname). */
  get isIp (): boolean {
    return isIP(this.host) !== 0
  }

  /** `host:port`, IPv6 in brackets. */
  get hostPort (): string {
    return isIP(this.host) === 6 ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`
  }

  /** `id@host:port`, or `host:port` when the ID is empty. */
  toString (): string {
    return this.id === '' ? this.hostPort : `${this.id}@${this.hostPort}`
  }

  /** Same ID, host and port. */
  equals (other: NetAddress): boolean {
    return this.id === other.id && this.host === other.host && this.port === other.port
  }

  /** Same host and port, whatever the IDs (CometBFT's `Same` also matches on ID alone). */
  same (other: NetAddress): boolean {
    return (this.id !== '' && this.id === other.id) || (this.host === other.host && this.port === other.port)
  }

  /** Resolves a hostname to an IP address with DNS; an IP address resolves to itself. */
  async resolve (): Promise<NetAddress> {
    if (this.isIp) return this
    const { lookup } = await import('node:dns/promises')
    try {
      const { address } = await lookup(this.host)
      return new NetAddress(this.id, address, this.port)
    } catch (err) {
      throw new InvalidAddressError(`cannot resolve host ${JSON.stringify(this.host)}`, { cause: err })
    }
  }
}

function splitHostPort (hostPort: string, input: string): { host: string, port: number } {
  let host: string
  let portText: string
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']')
    if (close < 0 || hostPort[close + 1] !== ':') throw new InvalidAddressError(`address ${JSON.stringify(input)}: bad [ipv6]:port`)
    host = hostPort.slice(1, close)
    portText = hostPort.slice(close + 2)
    if (isIP(host) !== 6) throw new InvalidAddressError(`address ${JSON.stringify(input)}: ${JSON.stringify(host)} is not an IPv6 address`)
  } else {
    const colon = hostPort.lastIndexOf(':')
    if (colon < 0) throw new InvalidAddressError(`address ${JSON.stringify(input)}: missing port`)
    host = hostPort.slice(0, colon)
    portText = hostPort.slice(colon + 1)
    if (host.includes(':')) throw new InvalidAddressError(`address ${JSON.stringify(input)}: IPv6 hosts need brackets`)
  }
  checkHost(host, input)
  if (!/^[0-9]{1,5}$/.test(portText)) throw new InvalidAddressError(`address ${JSON.stringify(input)}: invalid port ${JSON.stringify(portText)}`)
  const port = Number(portText)
  checkPort(port, input)
  return { host, port }
}

const HOSTNAME_RE = /^(?=.{1,253}$)([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*\.?$/

function checkHost (host: string, input: string): void {
  if (host === '') throw new InvalidAddressError(`address ${JSON.stringify(input)}: empty host`)
  if (isIP(host) === 0 && !HOSTNAME_RE.test(host)) throw new InvalidAddressError(`address ${JSON.stringify(input)}: invalid host ${JSON.stringify(host)}`)
}

function checkPort (port: number, input: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidAddressError(`address ${JSON.stringify(input)}: port ${port} out of range`)
}
