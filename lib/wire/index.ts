export * from './delimited.js'
export * from './mempool.js'
export * from './consensus.js'
export * from './pex.js'
