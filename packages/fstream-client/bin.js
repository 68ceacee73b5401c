#!/usr/bin/env node
import { main } from './dist/follow-cli.js'

await main(process.argv.slice(2))
