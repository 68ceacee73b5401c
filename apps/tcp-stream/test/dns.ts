// A DNS server on 127.0.0.1 for tests: answers SRV and A queries from a table that the test edits,
// the way Consul's DNS interface does for registered services.
import { createSocket } from 'node:dgram'
import type { AddressInfo } from 'node:net'
import * as dnsPacket from 'dns-packet'

export interface TestDns {
  /** `127.0.0.1:PORT`, for `--dns-server` / `Resolver.setServers`. */
  readonly server: string
  readonly srv: Map<string, { target: string; port: number; priority?: number }[]>
  readonly a: Map<string, string>
  close(): Promise<void>
}

export async function startTestDns(): Promise<TestDns> {
  const socket = createSocket('udp4')
  const srv: TestDns['srv'] = new Map()
  const a: TestDns['a'] = new Map()
  socket.on('message', (message, peer) => {
    const query = dnsPacket.decode(message)
    const question = query.questions?.[0]
    const answers: dnsPacket.Answer[] = []
    if (question?.type === 'SRV') {
      for (const record of srv.get(question.name) ?? []) {
        answers.push({
          type: 'SRV',
          name: question.name,
          ttl: 0,
          data: {
            target: record.target,
            port: record.port,
            priority: record.priority ?? 1,
            weight: 1,
          },
        })
      }
    } else if (question?.type === 'A') {
      const address = a.get(question.name)
      if (address) answers.push({ type: 'A', name: question.name, ttl: 0, data: address })
    }
    const response = dnsPacket.encode({
      type: 'response',
      id: query.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: query.questions ?? [],
      answers,
    })
    socket.send(response, peer.port, peer.address)
  })
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  const { port } = socket.address() as AddressInfo
  return {
    server: `127.0.0.1:${port}`,
    srv,
    a,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  }
}
