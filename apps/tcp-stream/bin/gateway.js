#!/usr/bin/env node
// The app is private and runs from its TypeScript sources through tsx.
import { register } from 'tsx/esm/api'

register()
await import('../src/gateway-cli.ts')
