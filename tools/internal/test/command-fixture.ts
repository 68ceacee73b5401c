// A command built on the CLI layer, run by cli.test.ts as a real process.
import { CannotStartError, ExitError, offsetOption, runCommand } from '../src/cli/index.js'

await runCommand(
  {
    name: 'fixture',
    help: 'Usage: fixture [--offset N] [--fail KIND] WORD\n\nA command for tests.',
    options: { offset: { type: 'string', default: '0' }, fail: { type: 'string' } },
    positionals: { min: 1, max: 1, name: 'WORD' },
    exitCodes: { LIB_ERR_GONE: 3 },
    run({ values, positionals }) {
      const offset = offsetOption('--offset', values.offset)
      if (values.fail === 'start') throw new CannotStartError('port 1 in use')
      if (values.fail === 'exit') throw new ExitError('the server answered 500', 22)
      if (values.fail === 'library')
        throw Object.assign(new Error('gone'), { code: 'LIB_ERR_GONE' })
      if (values.fail === 'other') throw new Error('surprise')
      process.stdout.write(`${positionals[0]} ${offset}\n`)
    },
  },
  process.argv.slice(2),
  '1.2.3',
)
