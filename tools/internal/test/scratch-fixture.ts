// Makes a scratch directory with a file in it, prints its path, and exits as a signal makes it.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { scratchDir } from '../src/cli/index.js'

const dir = await scratchDir('sluice-scratch-test-')
await writeFile(join(dir, 'big.bin'), Buffer.alloc(1024))
process.stdout.write(`${dir}\n`)
process.exit(process.argv[2] === 'fail' ? 1 : 0)
