import type { Part } from './parts.js'

/** Thrown for a `-F` argument that cannot be understood. */
export class FormArgumentError extends Error {
  override name = 'FormArgumentError'
}

/**
 * Parses a curl-style `-F` argument: `name=value` (a field), `name=@path` (a file, streamed),
 * `name=@-` (standard input, streamed), with `;type=…` and `;filename=…` after a file. A value
 * with a literal `@` at its start is written `name=\@…`.
 */
export function parseFormArgument(arg: string, stdin: () => NodeJS.ReadableStream): Part {
  const eq = arg.indexOf('=')
  if (eq <= 0)
    throw new FormArgumentError(`-F ${JSON.stringify(arg)}: expected name=value or name=@file`)
  const name = arg.slice(0, eq)
  const rest = arg.slice(eq + 1)
  if (!rest.startsWith('@')) return { name, value: rest.startsWith('\\@') ? rest.slice(1) : rest }
  const [target = '', ...modifiers] = rest.slice(1).split(';')
  if (target === '') throw new FormArgumentError(`-F ${JSON.stringify(arg)}: no file after @`)
  let contentType: string | undefined
  let filename: string | undefined
  for (const modifier of modifiers) {
    const sep = modifier.indexOf('=')
    const key = modifier.slice(0, sep).trim().toLowerCase()
    const value = modifier
      .slice(sep + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
    if (sep <= 0 || value === '') {
      throw new FormArgumentError(
        `-F ${JSON.stringify(arg)}: bad modifier ${JSON.stringify(modifier)}`,
      )
    }
    if (key === 'type') contentType = value
    else if (key === 'filename') filename = value
    else
      throw new FormArgumentError(
        `-F ${JSON.stringify(arg)}: unknown modifier "${key}" (type, filename)`,
      )
  }
  const options = {
    ...(contentType === undefined ? {} : { contentType }),
    ...(filename === undefined ? {} : { filename }),
  }
  if (target === '-') {
    return {
      name,
      source: stdin() as unknown as AsyncIterable<Uint8Array>,
      filename: filename ?? '-',
      ...options,
    }
  }
  return { name, path: target, ...options }
}
