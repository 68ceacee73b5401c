#!/usr/bin/env node
import { main } from '../dist/append-cli.js'

await main(process.argv.slice(2))
