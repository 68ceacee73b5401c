import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

/** A self-signed certificate for 127.0.0.1: the PEM files and their contents. */
export interface SelfSignedCertificate {
  readonly certPath: string
  readonly keyPath: string
  readonly cert: Buffer
  readonly key: Buffer
}

/** Writes a self-signed certificate (RSA 2048, one day) for 127.0.0.1 into `dir` with openssl. */
export async function selfSignedCertificate(dir: string): Promise<SelfSignedCertificate> {
  const certPath = join(dir, 'cert.pem')
  const keyPath = join(dir, 'key.pem')
  await promisify(execFile)('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
    ...['-keyout', keyPath, '-out', certPath],
  ])
  const [cert, key] = await Promise.all([readFile(certPath), readFile(keyPath)])
  return { certPath, keyPath, cert, key }
}
