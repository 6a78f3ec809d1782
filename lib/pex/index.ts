/**
 * PEX and the address book: CometBFT's `AddrBook` with its buckets, rules and `addrbook.json`.
 *
 * @module
 */
export * from './params.js'
export * from './known-address.js'
export * from './addr-book.js'
export * from './addr-book-file.js'
export * from './pex-defaults.js'
export * from './dial-backoff.js'
export * from './pex-reactor.js'
