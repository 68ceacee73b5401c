/** A header value of the form `type; key=value; key="quoted value"`. */
export interface ParameterizedHeader {
  /** The part before the first `;`, trimmed and lower-cased. */
  readonly value: string
  /** Parameters by lower-cased name; quoted strings are unquoted (backslash escapes removed). */
  readonly params: ReadonlyMap<string, string>
}

/** RFC 9110 §5.6.2 token (`*` is a token character: `name*` stays possible). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

const PARAM = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/gy

/**
 * Parses `multipart/form-data; boundary=x` or `form-data; name="a"; filename="b"`. Returns
 * undefined when the parameter list is malformed. `name*=UTF-8''…` (RFC 8187) is decoded into
 * `name`.
 */
export function parseParameterizedHeader(header: string): ParameterizedHeader | undefined {
  const semi = header.indexOf(';')
  const value = (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase()
  const params = new Map<string, string>()
  if (semi === -1) return { value, params }
  const rest = header.slice(semi).trimEnd()
  PARAM.lastIndex = 0
  while (PARAM.lastIndex < rest.length) {
    const start = PARAM.lastIndex
    const match = PARAM.exec(rest)
    if (match === null) {
      // A trailing `;` with nothing after it is common and harmless.
      if (/^;\s*$/.test(rest.slice(start))) break
      return undefined
    }
    const name = match[1]?.toLowerCase() ?? ''
    const quoted = match[2]
    // Only `\\` and `\"` are escapes: browsers send other backslashes as they are (WHATWG HTML
    // multipart encoding), and busboy reads them so.
    const raw = quoted === undefined ? (match[3] ?? '').trim() : quoted.replace(/\\([\\"])/g, '$1')
    // RFC 9110 §5.6.6: a parameter is a token or a quoted string, nothing in between.
    if (!TOKEN.test(name) || (quoted === undefined && !TOKEN.test(raw))) return undefined
    if (name.endsWith('*')) {
      const extended = /^([\w!#$%&+^`{}~-]+)'[^']*'(.*)$/.exec(raw)
      if (extended === null) return undefined
      try {
        const charset = extended[1]?.toLowerCase()
        const bytes = decodeURIComponent(extended[2] ?? '')
        params.set(name.slice(0, -1), charset === 'utf-8' ? bytes : raw)
      } catch {
        return undefined
      }
    } else if (!params.has(name)) {
      params.set(name, raw)
    }
  }
  return { value, params }
}
