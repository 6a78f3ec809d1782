export * from './channel.js'
export * from './mconnection.js'
export * from './flow-rate.js'
export * from './defaults.js'
