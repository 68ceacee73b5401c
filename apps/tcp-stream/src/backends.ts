import { Resolver } from 'node:dns/promises'
import { isIP } from 'node:net'

/** One TCP service the gateway can stream to. */
export interface Backend {
  readonly host: string
  readonly port: number
  /** `host:port`, with brackets around an IPv6 host. */
  readonly address: string
}

/** Where the backends come from: a fixed list, or DNS SRV records (Consul, Kubernetes). */
export type BackendSource =
  | { readonly kind: 'static'; readonly backends: readonly Backend[] }
  | { readonly kind: 'srv'; readonly name: string; readonly dnsServers?: readonly string[] }

export class BackendSpecError extends Error {}

export function backendAt(host: string, port: number): Backend {
  return { host, port, address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` }
}

/** Parses `host:port,…` or `srv:NAME` (the `--backends` syntax). */
export function parseBackendSpec(spec: string, dnsServers?: readonly string[]): BackendSource {
  if (spec.startsWith('srv:')) {
    const name = spec.slice(4)
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new BackendSpecError(`"${name}" is not a DNS name`)
    return { kind: 'srv', name, ...(dnsServers ? { dnsServers } : {}) }
  }
  const backends = spec.split(',').map((item) => {
    const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(item.trim())
    const port = Number(match?.[3])
    const host = match?.[1] ?? match?.[2]
    if (!host || !(port > 0 && port < 65536)) {
      throw new BackendSpecError(`"${item}" is not host:port`)
    }
    return backendAt(host, port)
  })
  return { kind: 'static', backends }
}

/**
 * The current backends of `source`. SRV records are ordered by priority (lowest first, as RFC 2782
 * says) and their targets resolved to addresses through the same DNS servers, like Consul's
 * answers expect.
 */
export async function resolveBackends(source: BackendSource): Promise<Backend[]> {
  if (source.kind === 'static') return [...source.backends]
  const resolver = new Resolver({ timeout: 1_000, tries: 2 })
  if (source.dnsServers) resolver.setServers(source.dnsServers)
  const records = await resolver.resolveSrv(source.name)
  records.sort((a, b) => a.priority - b.priority || b.weight - a.weight)
  const backends: Backend[] = []
  for (const record of records) {
    const host = isIP(record.name) ? record.name : await resolveHost(resolver, record.name)
    if (host) backends.push(backendAt(host, record.port))
  }
  return backends
}

async function resolveHost(resolver: Resolver, name: string): Promise<string | undefined> {
  const v4 = await resolver.resolve4(name).catch(() => [])
  if (v4[0]) return v4[0]
  const v6 = await resolver.resolve6(name).catch(() => [])
  return v6[0]
}
