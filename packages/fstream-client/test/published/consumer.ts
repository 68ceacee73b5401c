// Typechecked against the packed package, installed alone (`pnpm check:package`).
import {
  type AppendOptions,
  append,
  type FollowOptions,
  FstreamError,
  FstreamProtocolError,
  follow,
  PROTOCOL,
  readResource,
} from '@sluice/fstream-client'

const followOptions: FollowOptions = { offset: -1000, wait: true, reconnect: 3 }
follow('http://127.0.0.1:8080/logs/app.log', followOptions).pipe(process.stdout)
const appendOptions: AppendOptions = { offset: 0 }
export const appended = append('http://127.0.0.1:8080/logs/app.log', process.stdin, appendOptions)
export const whole = readResource('http://127.0.0.1:8080/logs/app.log')
const protocol: 'fstream.v1' = PROTOCOL
// @ts-expect-error offset is a number of bytes
follow('http://127.0.0.1:8080/a', { offset: '10' })
export const codeOf = (error: unknown): string | undefined =>
  error instanceof FstreamProtocolError
    ? 'broken server'
    : error instanceof FstreamError
      ? `${protocol} ${error.code}`
      : undefined
