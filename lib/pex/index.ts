/**
 * PEX and the address book: CometBFT's `AddrBook` with its buckets, rules and `addrbook.json`, and the PEX
 * reactor. The defaults and the book's parameters are in `rx-p2p/defaults`.
 *
 * @module
 */
export { BUCKET_TYPE_NEW, BUCKET_TYPE_OLD, type BucketType } from './params.js'
export { timeToMs, ZERO_TIME, type GoTime, type KnownAddressInfo } from './known-address.js'
export {
  AddrBook, type AddAddressResult, type AddrBookEvent, type AddrBookInit, type AddrBookLimits, type AddrBookRejection
} from './addr-book.js'
export {
  AddrBookFile, type AddrBookData, type AddrBookFileInit, type AddrBookLoadOptions, type AddrBookStore
} from './addr-book-file.js'
export {
  PEX_CHANNEL_DESCRIPTOR, pexReactor, type LearnedAddress, type PexDialPurpose, type PexEvent, type PexReactor, type PexReactorInit
} from './pex-reactor.js'
