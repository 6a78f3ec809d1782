/**
 * The address book's constants, CometBFT's `p2p/pex/params.go` (identical in v0.38 and v1.0).
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

/** Below this many addresses the book asks for more ({@link AddrBook.needMoreAddrs}). */
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

/** Percentage of the book that {@link AddrBook.getSelection} returns. */
export const GET_SELECTION_PERCENT = 23

/** The least {@link AddrBook.getSelection} returns (when the book has that many). */
export const MIN_GET_SELECTION = 32

/** The most {@link AddrBook.getSelection} returns; equals the PEX message limit of 250 addresses. */
export const MAX_GET_SELECTION = 250

/** How long a PEX rule breaker is banned (CometBFT's `defaultBanTime`): 24 hours. */
export const DEFAULT_BAN_TIME_MS = 24 * 60 * 60 * 1000

/** `bucket_type` of a new address in `addrbook.json`. */
export const BUCKET_TYPE_NEW = 1

/** `bucket_type` of an old address in `addrbook.json`. */
export const BUCKET_TYPE_OLD = 2

/** `1` (new) or `2` (old). */
export type BucketType = typeof BUCKET_TYPE_NEW | typeof BUCKET_TYPE_OLD
