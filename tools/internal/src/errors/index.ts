export { brandError, SluiceError } from './sluice-error.js'
