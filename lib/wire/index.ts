export * from './delimited.js'
