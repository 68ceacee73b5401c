import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, listen, missingTool, tempDir } from '@sluice/test-utils'
import { describe, expect, it } from 'vitest'
import { backendAt } from './backends.js'
import { createGateway } from './gateway.js'
import { createStreamService } from './service.js'

const nginxMissing = missingTool('nginx', ['-v'])

const configFile = fileURLToPath(new URL('../nginx/tcp-stream.conf', import.meta.url))

describe.skipIf(nginxMissing !== undefined)(
  'nginx in front of the gateway (nginx/tcp-stream.conf)',
  () => {
    it("proxies /health and /stream, with the gateway's status codes", async () => {
      const service = await listen(createStreamService())
      // A probe may take long on a loaded machine: one timed out is a backend marked down.
      const { server, pool } = createGateway({
        backends: { kind: 'static', backends: [backendAt('127.0.0.1', service.port)] },
        timeoutMs: 5_000,
      })
      await pool.refresh()
      const gateway = await listen(server)
      const dir = await tempDir('tcp-stream-nginx-')
      const prefix = dir.path
      const port = await freePort()
      const site = (await readFile(configFile, 'utf8'))
        .replace('server 127.0.0.1:8090', `server 127.0.0.1:${gateway.port}`)
        .replace('listen 127.0.0.1:8080', `listen 127.0.0.1:${port}`)
      await writeFile(join(prefix, 'tcp-stream.conf'), site)
      await writeFile(
        join(prefix, 'nginx.conf'),
        `daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  include ${prefix}/tcp-stream.conf;
}
`,
      )
      const nginx = spawn('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf')], {
        stdio: 'inherit',
      })
      const exited = new Promise((resolve) => nginx.once('exit', resolve))
      try {
        const url = `http://127.0.0.1:${port}`
        await expect
          .poll(
            () =>
              fetch(`${url}/health`).then(
                (response) => response.status,
                () => 0,
              ),
            { timeout: 15_000 },
          )
          .toBe(200)
        const answer = await fetch(`${url}/stream?size=${64 * 1024 * 1024}`, { method: 'POST' })
        expect(answer.status).toBe(200)
        expect(await answer.json()).toMatchObject({
          size: 64 * 1024 * 1024,
          sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        })
        const bad = await fetch(`${url}/stream?size=-1`, { method: 'POST' })
        expect(bad.status).toBe(400)
        expect(await bad.json()).toEqual({
          error: 'size must be a whole number of bytes, got "-1"',
        })
        expect((await fetch(`${url}/stream?size=1`)).status).toBe(405)
        expect((await fetch(`${url}/elsewhere`)).status).toBe(404)
      } finally {
        nginx.kill('SIGQUIT')
        await exited
        await gateway.close()
        await service.close()
        await dir.remove()
      }
    }, 90_000)
  },
)
