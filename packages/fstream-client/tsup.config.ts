import type { Options } from 'tsup'
import { packageBuild } from '../../tsup.base.ts'

const config: Options = packageBuild(['src/index.ts', 'src/follow-cli.ts', 'src/append-cli.ts'])
export default config
