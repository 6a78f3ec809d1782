/**
 * The address book's constants, CometBFT's `p2p/pex/params.go` (identical in v0.38 and v1.0), and the defaults of
 * the bounds rx-p2p adds to the book. The PEX layer keeps two constants files, one per component as CometBFT does:
 * this one for the book, `pex-defaults.ts` for the reactor.
 *
 * @module
 */

/** Buckets that new (untried) addresses are spread over. */
export const NEW_BUCKET_COUNT = 256

/** Addresses one new bucket holds. */
export const NEW_BUCKET_SIZE = 64

/** Buckets that old (tried, good) addresses are spread over. */
export const OLD_BUCKET_COUNT = 64

/** Addresses one old bucket holds. */
export const OLD_BUCKET_SIZE = 64

/** New buckets that addresses from one source group can land in. */
export const NEW_BUCKETS_PER_GROUP = 32

/** Old buckets that one address group can land in. */
export const OLD_BUCKETS_PER_GROUP = 4

/** New buckets one address may be in at once. */
export const MAX_NEW_BUCKETS_PER_ADDRESS = 4

/** Below this many addresses the book asks for more ({@link rx-p2p!AddrBook.needMoreAddrs}). */
export const NEED_ADDRESS_THRESHOLD = 1000

/** How often the book is saved to its file: 2 minutes. */
export const DUMP_ADDRESS_INTERVAL_MS = 2 * 60 * 1000

/** A new address not attempted for this many days is bad. */
export const NUM_MISSING_DAYS = 7

/** A new address with this many attempts and never a success is bad. */
export const NUM_RETRIES = 3

/** A new address with this many attempts and no success for {@link MIN_BAD_DAYS} days is bad. */
export const MAX_FAILURES = 10

/** See {@link MAX_FAILURES}. */
export const MIN_BAD_DAYS = 7

/** Percentage of the book that {@link rx-p2p!AddrBook.getSelection} returns. */
export const GET_SELECTION_PERCENT = 23

/** The least {@link rx-p2p!AddrBook.getSelection} returns (when the book has that many). */
export const MIN_GET_SELECTION = 32

/** The most {@link rx-p2p!AddrBook.getSelection} returns; equals the PEX message limit of 250 addresses. */
export const MAX_GET_SELECTION = 250

/** How long a PEX rule breaker is banned (CometBFT's `defaultBanTime`): 24 hours. */
export const DEFAULT_BAN_TIME_MS = 24 * 60 * 60 * 1000

/** `bucket_type` of a new address in `addrbook.json`. */
export const BUCKET_TYPE_NEW = 1

/** `bucket_type` of an old address in `addrbook.json`. */
export const BUCKET_TYPE_OLD = 2

/** `1` (new) or `2` (old). */
export type BucketType = typeof BUCKET_TYPE_NEW | typeof BUCKET_TYPE_OLD

// ---------------------------------------------------------------------------------------------
// rx-p2p: bounds on what one source can place in the book, and on the file (CometBFT has none of these)

/**
 * rx-p2p: the most addresses in the book told by one source node ID (the peer that sent them, or an inbound
 * peer's own address): about half a PEX answer of 250; a node learns from many peers. Node IDs cost nothing,
 * so in a strict book the source-group bound is the one that holds an attacker; this one bounds a non-strict
 * book. CometBFT has no such bound.
 */
export const DEFAULT_MAX_ADDRS_PER_SOURCE = 128

/**
 * rx-p2p: the most addresses in a strict book whose source is in one group (`NetAddress.groupKey` of the IP
 * we saw the source connect from, or that we dialed: its /16 for IPv4). Node IDs are free, IPs in distinct /16s
 * are not: this is what holds 30 peers with fresh keys from one network to 128 entries. Off in a non-strict
 * book, where every peer may share one /16. CometBFT has no such bound.
 */
export const DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP = 128

/**
 * rx-p2p: the most addresses of one group (`NetAddress.groupKey`: a /16 for IPv4) in a strict book, from
 * all sources together: 256, what CometBFT's old buckets hold of one group (4 buckets of 64). Off in a
 * non-strict book. CometBFT has no such bound for new addresses.
 */
export const DEFAULT_MAX_ADDRS_PER_GROUP = 256

/**
 * rx-p2p: in a strict book, the most entries one source group holds in one new bucket (a quarter of its 64): a
 * source can expire at most that many entries of others from any bucket. Off in a non-strict book (where
 * addresses of one /16 told by peers of one /16 all land in one bucket anyway).
 */
export const DEFAULT_MAX_PER_SOURCE_GROUP_IN_BUCKET = 16

/**
 * rx-p2p: an `addrbook.json` larger than this is set aside unread (`AddrBookTooLargeError`): 32 MiB. A full
 * book (256·64 new + 64·64 old = 20,480 entries) takes about 9-12 MB in CometBFT's format; parsing 32 MiB
 * blocks the event loop for about 0.2 s and needs about 180 MB of heap while it loads.
 */
export const DEFAULT_MAX_ADDR_BOOK_FILE_BYTES = 32 * 1024 * 1024

/** The most addresses a book holds: one per bucket slot, 256·64 new + 64·64 old = 20,480. */
export const MAX_BOOK_SIZE = NEW_BUCKET_COUNT * NEW_BUCKET_SIZE + OLD_BUCKET_COUNT * OLD_BUCKET_SIZE

/** Entries of `addrbook.json` decoded between two yields to the event loop while a book loads. */
export const LOAD_BATCH_SIZE = 2000
