export {
  checkDirectoriesBeneath,
  fsReason,
  lstatBeneath,
  NAME_MAX,
  openBeneath,
  rawPathOf,
  relativePathOf,
} from './beneath.js'
export {
  createTempFile,
  isRunning,
  moveIntoPlace,
  prepareTempDirectory,
  type TempFile,
  writeFileAtomically,
} from './temp-file.js'
export { writeAll } from './write-all.js'
