import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort } from '@sluice/test-utils'
import { execFileAsync } from './measure.js'

export interface Nginx {
  readonly url: string
  stop(): Promise<void>
}

export interface NginxOptions {
  /** Serve HTTPS with HTTP/2 (`listen … ssl http2`) with this certificate and key. */
  readonly tls?: { readonly cert: string; readonly key: string }
}

/**
 * nginx (1 worker, `sendfile on`, no access log) serving `root` statically on a free loopback
 * port, its prefix under `work`; a string says why it cannot run.
 */
export async function startNginx(
  work: string,
  root: string,
  options: NginxOptions = {},
): Promise<Nginx | string> {
  const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path))
  if (nginx === undefined) return 'nginx is not installed (apt-get install nginx)'
  const prefix = join(work, options.tls ? 'nginx-tls' : 'nginx')
  await mkdir(join(prefix, 'logs'), { recursive: true })
  const port = await freePort()
  const listen = options.tls
    ? `listen 127.0.0.1:${port} ssl http2; ssl_certificate ${options.tls.cert}; ssl_certificate_key ${options.tls.key};`
    : `listen 127.0.0.1:${port};`
  await writeFile(
    join(prefix, 'nginx.conf'),
    `daemon off; master_process off; worker_processes 1; user root; error_log ${prefix}/logs/error.log; pid ${prefix}/nginx.pid;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on;
  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy; fastcgi_temp_path ${prefix}/fcgi; uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
  server { ${listen} root ${root}; } }\n`,
  )
  const child = spawn(nginx, ['-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: 'ignore' })
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`
  for (let i = 0; i < 50; i++) {
    try {
      await execFileAsync('curl', ['-sSk', '-o', '/dev/null', url])
      return {
        url,
        stop: async () => {
          child.kill('SIGTERM')
          await new Promise((resolve) => child.once('exit', resolve))
        },
      }
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  child.kill('SIGKILL')
  return 'nginx did not start'
}
