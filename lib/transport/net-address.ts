/**
 * `NetAddress`: a node ID with a host and port, as CometBFT writes it (`id@host:port`).
 *
 * @module
 */
import { isIP } from 'node:net'
import { isValidNodeId, parseNodeId, type NodeId } from '../crypto/node-id.js'
import { InvalidAddressError } from '../errors.js'

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
    this.#string ??= this.id === '' ? this.hostPort : `${this.id}@${this.hostPort}`
    return this.#string
  }

  #string: string | undefined

  /** Same ID, host and port. */
  equals (other: NetAddress): boolean {
    return this.id === other.id && this.host === other.host && this.port === other.port
  }

  /** Same host and port, whatever the IDs (CometBFT's `Same` also matches on ID alone). */
  same (other: NetAddress): boolean {
    return (this.id !== '' && this.id === other.id) || (this.host === other.host && this.port === other.port)
  }

  /**
   * The IP as 16 bytes in Go's `net.IP` form (IPv4 as `::ffff:a.b.c.d`), parsed as strictly as Go's
   * `net.ParseIP`; `undefined` for a hostname, an empty host or an IPv6 zone.
   */
  get ip (): Uint8Array | undefined {
    if (this.#ip === null) this.#ip = parseIp(this.host)
    return this.#ip
  }

  #ip: Uint8Array | undefined | null = null

  /**
   * The same address with its host in Go's `net.IP` text form (`::ffff:1.2.3.4` becomes `1.2.3.4`, IPv6
   * compressed and lowercase); `this` when it already is, or when the host is not an IP.
   */
  canonical (): NetAddress {
    if (this.#canonical === undefined) {
      const ip = this.ip
      const host = ip === undefined ? this.host : formatIp(ip)
      this.#canonical = host === this.host ? this : new NetAddress(this.id, host, this.port)
    }
    return this.#canonical
  }

  // Caches: a NetAddress never changes, and the address book asks these questions on every gossip.
  #canonical: NetAddress | undefined
  #validity: 'invalid ID' | 'no IP' | 'invalid IP' | '' | undefined
  #routable: boolean | undefined
  #groups: [string | undefined, string | undefined] = [undefined, undefined]

  /**
   * CometBFT's `Valid()`: the ID is 40 hex characters and the host is an IP that is not unspecified
   * (`0.0.0.0`, `::`), not IPv6 documentation (RFC 3849) and not the IPv4 broadcast address.
   */
  isValid (): boolean {
    return this.validityError() === undefined
  }

  /** Why {@link NetAddress.isValid} is false (`'invalid ID'`, `'no IP'`, `'invalid IP'`), or `undefined`. */
  validityError (): 'invalid ID' | 'no IP' | 'invalid IP' | undefined {
    if (this.#validity === undefined) {
      const ip = this.ip
      this.#validity = !isValidNodeId(this.id)
        ? 'invalid ID'
        : ip === undefined
          ? 'no IP'
          : isUnspecifiedIp(ip) || inIpNet(ip, RFC3849) || isBroadcastIp(ip) ? 'invalid IP' : ''
    }
    return this.#validity === '' ? undefined : this.#validity
  }

  /** CometBFT's `Local()`: a loopback address (`127.0.0.0/8`, `::1`) or one in `0.0.0.0/8`. */
  isLocal (): boolean {
    const ip = this.ip
    return ip !== undefined && (isLoopbackIp(ip) || inIpNet(ip, ZERO4))
  }

  /**
   * CometBFT's `Routable()`: valid, and not RFC 1918, RFC 3927, RFC 4862, RFC 4193, RFC 4843 or local. This
   * is what a strict address book (`addrBookStrict`, the default) requires.
   *
   * @example
   * ```ts
   * NetAddress.parse(`${id}@203.0.113.7:26656`).isRoutable() // true
   * NetAddress.parse(`${id}@192.168.1.2:26656`).isRoutable() // false (RFC 1918)
   * ```
   */
  isRoutable (): boolean {
    this.#routable ??= this.isValid() && !this.isRfc1918() && !this.isRfc3927() && !this.isRfc4862() &&
      !this.isRfc4193() && !this.isRfc4843() && !this.isLocal()
    return this.#routable
  }

  /** IPv4 private networks: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`. */
  isRfc1918 (): boolean { return this.#in(RFC1918_10) || this.#in(RFC1918_192) || this.#in(RFC1918_172) }
  /** IPv6 documentation: `2001:db8::/32`. */
  isRfc3849 (): boolean { return this.#in(RFC3849) }
  /** IPv4 link-local (autoconfiguration): `169.254.0.0/16`. */
  isRfc3927 (): boolean { return this.#in(RFC3927) }
  /** IPv6 6to4: `2002::/16`. */
  isRfc3964 (): boolean { return this.#in(RFC3964) }
  /** IPv6 unique local: `fc00::/7`. */
  isRfc4193 (): boolean { return this.#in(RFC4193) }
  /** IPv6 Teredo: `2001::/32`. */
  isRfc4380 (): boolean { return this.#in(RFC4380) }
  /** IPv6 ORCHID: `2001:10::/28`. */
  isRfc4843 (): boolean { return this.#in(RFC4843) }
  /** IPv6 link-local (autoconfiguration): `fe80::/64`. */
  isRfc4862 (): boolean { return this.#in(RFC4862) }
  /** IPv6 well-known NAT64 prefix: `64:ff9b::/96`. */
  isRfc6052 (): boolean { return this.#in(RFC6052) }
  /** IPv6 IPv4-translated: `::ffff:0:0:0/96`. */
  isRfc6145 (): boolean { return this.#in(RFC6145) }
  /** OnionCat (Tor): `fd87:d87e:eb43::/48`. */
  isOnionCatTor (): boolean { return this.#in(ONION_CAT) }

  #in (net: IpNet): boolean {
    const ip = this.ip
    return ip !== undefined && inIpNet(ip, net)
  }

  /**
   * CometBFT's `group(addr)`, the network group an address book spreads addresses by: the `/16` for IPv4
   * (`1.2.0.0`), the embedded IPv4 `/16` for RFC 6145, RFC 6052, 6to4 and Teredo, `tor:<n>` for OnionCat,
   * `/32` for other IPv6 (`/36` inside `2001:470::/32`). With `strict` (the default), `"local"` for local
   * and `"unroutable"` for unroutable addresses.
   *
   * @example
   * ```ts
   * NetAddress.parse(`${id}@1.2.3.4:26656`).groupKey() // '1.2.0.0'
   * NetAddress.parse(`${id}@10.0.0.1:26656`).groupKey() // 'unroutable'
   * NetAddress.parse(`${id}@10.0.0.1:26656`).groupKey(false) // '10.0.0.0'
   * ```
   */
  groupKey (strict = true): string {
    const i = strict ? 0 : 1
    return (this.#groups[i] ??= this.#groupKey(strict))
  }

  #groupKey (strict: boolean): string {
    if (strict && this.isLocal()) return 'local'
    if (strict && !this.isRoutable()) return 'unroutable'
    const ip = this.ip
    if (ip === undefined) return '<nil>' // Go's String() of the nil IP that Mask returns
    if (isIpv4(ip)) return `${ip[12]}.${ip[13]}.0.0`
    if (this.isRfc6145() || this.isRfc6052()) return `${ip[12]}.${ip[13]}.0.0`
    if (this.isRfc3964()) return `${ip[2]}.${ip[3]}.0.0`
    if (this.isRfc4380()) return `${ip[12]! ^ 0xff}.${ip[13]! ^ 0xff}.0.0`
    if (this.isOnionCatTor()) return `tor:${ip[6]! & 0x0f}`
    const bits = inIpNet(ip, HE_NET) ? 36 : 32
    return formatIp(maskIp(ip, bits))
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

// ---------------------------------------------------------------------------------------------
// IP addresses as Go's `net` package has them

/**
 * Parses an IP address exactly as Go's `net.ParseIP` does (Go 1.22+): dotted IPv4 without leading zeros,
 * IPv6 with at most one `::` and an optional trailing dotted IPv4, no zone. IPv4 comes back in the
 * 16-byte IPv4-mapped form (`::ffff:a.b.c.d`), as Go stores it.
 *
 * @returns 16 bytes, or `undefined` when Go would return nil
 * @example
 * ```ts
 * parseIp('1.2.3.4')  // Uint8Array [0,0,0,0,0,0,0,0,0,0,255,255,1,2,3,4]
 * parseIp('1.02.3.4') // undefined
 * ```
 */
export function parseIp (text: string): Uint8Array | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x2e /* . */) {
      const ip = new Uint8Array(16)
      ip[10] = 0xff
      ip[11] = 0xff
      return parseIpv4Into(text, ip, 12) ? ip : undefined
    }
    if (c === 0x3a /* : */) return parseIpv6(text)
    if (c === 0x25 /* % */) return undefined
  }
  return undefined
}

/**
 * Go's `net.IP.String()` for a 16-byte IP: dotted decimal for IPv4 (and IPv4-mapped IPv6), otherwise
 * lowercase IPv6 with the longest run of two or more zero groups written `::` (the first, on a tie).
 *
 * @param ip 16 bytes (or 4 bytes of IPv4)
 */
export function formatIp (ip: Uint8Array): string {
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`
  if (ip.length !== 16) throw new InvalidAddressError(`an IP has 4 or 16 bytes, not ${ip.length}`)
  if (isIpv4(ip)) return `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((ip[i]! << 8) | ip[i + 1]!)
  let zeroStart = -1
  let zeroEnd = -1
  for (let i = 0; i < 8; i++) {
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i >= 2 && j - i > zeroEnd - zeroStart) {
      zeroStart = i
      zeroEnd = j
    }
    if (j > i) i = j
  }
  let out = ''
  for (let i = 0; i < 8; i++) {
    if (i === zeroStart) {
      out += '::'
      i = zeroEnd - 1
      continue
    }
    if (out !== '' && !out.endsWith(':')) out += ':'
    out += groups[i]!.toString(16)
  }
  return out
}

/** True when a 16-byte IP is IPv4 (`::ffff:a.b.c.d`), as Go's `To4() != nil`. */
export function isIpv4 (ip: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return false
  return ip[10] === 0xff && ip[11] === 0xff
}

function parseIpv4 (text: string): Uint8Array | undefined {
  const out = new Uint8Array(4)
  return parseIpv4Into(text, out, 0) ? out : undefined
}

// Four dot-separated decimal fields of 1 to 3 digits, no leading zero, each at most 255 (Go's parseIPv4),
// written to out[offset..offset+4]. A character loop: this runs for every address of every PEX message.
function parseIpv4Into (text: string, out: Uint8Array, offset: number): boolean {
  let field = 0
  let value = 0
  let digits = 0
  let first = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x2e /* . */) {
      if (digits === 0 || field === 3) return false
      out[offset + field++] = value
      value = 0
      digits = 0
      continue
    }
    if (c < 0x30 || c > 0x39) return false
    if (digits === 0) first = c
    else if (first === 0x30) return false // a leading zero
    if (++digits > 3) return false
    value = value * 10 + (c - 0x30)
    if (value > 255) return false
  }
  if (digits === 0 || field !== 3) return false
  out[offset + 3] = value
  return true
}

function hexDigit (c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10
  return -1
}

function parseIpv6 (s: string): Uint8Array | undefined {
  const ip = new Uint8Array(16)
  let ellipsis = -1
  let i = 0
  let pos = 0
  if (s.startsWith('::')) {
    ellipsis = 0
    pos = 2
    if (pos === s.length) return ip
  }
  while (i < 16) {
    let off = 0
    let acc = 0
    while (pos + off < s.length) {
      const d = hexDigit(s.charCodeAt(pos + off))
      if (d < 0) break
      acc = acc * 16 + d
      off++
      if (off > 4) return undefined
    }
    if (off === 0) return undefined
    if (pos + off < s.length && s[pos + off] === '.') {
      if (ellipsis < 0 && i !== 12) return undefined
      if (i + 4 > 16) return undefined
      const v4 = parseIpv4(s.slice(pos))
      if (v4 === undefined) return undefined
      ip.set(v4, i)
      i += 4
      pos = s.length
      break
    }
    ip[i] = acc >> 8
    ip[i + 1] = acc & 0xff
    i += 2
    pos += off
    if (pos === s.length) break
    if (s[pos] !== ':') return undefined
    pos++
    if (pos === s.length) return undefined
    if (s[pos] === ':') {
      if (ellipsis >= 0) return undefined
      ellipsis = i
      pos++
      if (pos === s.length) break
    }
  }
  if (pos !== s.length) return undefined
  if (i < 16) {
    if (ellipsis < 0) return undefined
    const n = 16 - i
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j]!
    for (let j = ellipsis + n - 1; j >= ellipsis; j--) ip[j] = 0
  } else if (ellipsis >= 0) {
    return undefined
  }
  return ip
}

interface IpNet { readonly v4: boolean, readonly prefix: Uint8Array, readonly bits: number }

function ipNet (text: string, bits: number): IpNet {
  const ip = parseIp(text)!
  const v4 = isIpv4(ip)
  return { v4, prefix: v4 ? ip.subarray(12) : ip, bits }
}

// Go's IPNet.Contains: an IPv4 network holds only IPv4 addresses, an IPv6 network only the others.
function inIpNet (ip: Uint8Array, net: IpNet): boolean {
  if (isIpv4(ip) !== net.v4) return false
  const bytes = net.v4 ? ip.subarray(12) : ip
  let bits = net.bits
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if ((bytes[i]! & mask) !== (net.prefix[i]! & mask)) return false
  }
  return true
}

function maskIp (ip: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(16)
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) out[i] = ip[i]! & (bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff)
  return out
}

function isUnspecifiedIp (ip: Uint8Array): boolean {
  if (isIpv4(ip)) return ip[12] === 0 && ip[13] === 0 && ip[14] === 0 && ip[15] === 0
  return ip.every((b) => b === 0)
}

function isBroadcastIp (ip: Uint8Array): boolean {
  return isIpv4(ip) && ip[12] === 255 && ip[13] === 255 && ip[14] === 255 && ip[15] === 255
}

function isLoopbackIp (ip: Uint8Array): boolean {
  if (isIpv4(ip)) return ip[12] === 127
  for (let i = 0; i < 15; i++) if (ip[i] !== 0) return false
  return ip[15] === 1
}

const RFC1918_10 = ipNet('10.0.0.0', 8)
const RFC1918_192 = ipNet('192.168.0.0', 16)
const RFC1918_172 = ipNet('172.16.0.0', 12)
const RFC3849 = ipNet('2001:db8::', 32)
const RFC3927 = ipNet('169.254.0.0', 16)
const RFC3964 = ipNet('2002::', 16)
const RFC4193 = ipNet('fc00::', 7)
const RFC4380 = ipNet('2001::', 32)
const RFC4843 = ipNet('2001:10::', 28)
const RFC4862 = ipNet('fe80::', 64)
const RFC6052 = ipNet('64:ff9b::', 96)
const RFC6145 = ipNet('::ffff:0:0:0', 96)
const ONION_CAT = ipNet('fd87:d87e:eb43::', 48)
const ZERO4 = ipNet('0.0.0.0', 8)
const HE_NET = ipNet('2001:470::', 32)
