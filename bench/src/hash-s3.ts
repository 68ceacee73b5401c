// Benchmark of hash-server storing into S3 (issue: hash-server streams uploads into S3), in one run.
//   pnpm --filter @sluice/bench bench:hash-s3 [-- --size-mib 1024 --rounds 3]
// One Swift with s3api on loopback (as the tests start it). The same bytes go into the same
// bucket five ways: `curl -T` into hash-server (hashing MD5 and storing: its length is known, so
// the body is streamed in one part to a temporary key, then copied server-side to md5/<hex>); the
// same with the client's Content-MD5 (straight to its name, no copy), also with Node's young
// generation capped at 1 MiB; `rclone rcat` and `aws s3 cp -` (8 MiB parts, 4 at a time)
// (Debian's rclone and awscli v2) reading the bytes from stdin. Throughput as the client sees it
// (until the answer, copy included) and the peak RSS of the process doing the upload (the server,
// rclone, aws). Medians of interleaved rounds; the objects are deleted between rounds.
// Needs Debian's rclone and awscli beside Swift (not installed by .ci/run: CI runs no benchmark).
import { spawn } from 'node:child_process'
import { mkdir, open, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { payloadFile, samplePeakRss, startServerProcess, startSwiftS3 } from '@sluice/test-utils'
import { benchArgs, execFileAsync, MiB, median, mibPerSecond, table } from './measure.js'

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    'size-mib': { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
  },
})
const size = Number(values['size-mib']) * MiB
const rounds = Number(values.rounds)
const BIN = fileURLToPath(new URL('../../packages/hash-server/bin.js', import.meta.url))
const WORK = fileURLToPath(new URL('../../.bench/hash-s3', import.meta.url))
// Debian's awscli v2, not whichever `aws` comes first on PATH.
const AWS = '/usr/bin/aws'
const BUCKET = 'bench'

await rm(WORK, { recursive: true, force: true })
await mkdir(WORK, { recursive: true })
const swift = await startSwiftS3()
const { endpoint, credentials, region } = swift
const awsConfig = join(WORK, 'aws-config')
await writeFile(
  awsConfig,
  `[default]\nregion = ${region}\ns3 =\n  multipart_chunksize = 8MB\n  max_concurrent_requests = 4\n  addressing_style = path\n`,
)
// A CA bundle set in the environment (AWS_CA_BUNDLE) makes rclone refuse to start; loopback is http.
const { AWS_CA_BUNDLE: _bundle, ...inherited } = process.env
const env = {
  ...inherited,
  AWS_ACCESS_KEY_ID: credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  AWS_REGION: region,
  AWS_CONFIG_FILE: awsConfig,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  RCLONE_CONFIG_SW_TYPE: 's3',
  RCLONE_CONFIG_SW_PROVIDER: 'Other',
  RCLONE_CONFIG_SW_ENDPOINT: endpoint,
  RCLONE_CONFIG_SW_ACCESS_KEY_ID: credentials.accessKeyId,
  RCLONE_CONFIG_SW_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  RCLONE_CONFIG_SW_REGION: region,
  RCLONE_CONFIG_SW_FORCE_PATH_STYLE: 'true',
}
const aws = (args: string[]) => execFileAsync(AWS, ['--endpoint-url', endpoint, ...args], { env })

/** Runs a command with the file as its stdin; resolves with seconds and its peak RSS. */
async function timed(command: string, args: string[], stdin?: string) {
  const input = stdin === undefined ? undefined : await open(stdin)
  const started = process.hrtime.bigint()
  const child = spawn(command, args, {
    env,
    stdio: [input ? input.fd : 'ignore', 'pipe', 'inherit'],
  })
  const rss = samplePeakRss(child.pid as number, 10)
  let stdout = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  const peak = rss.stop()
  await input?.close()
  if (code !== 0) throw new Error(`${command} exited with ${code}: ${stdout}`)
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, rss: peak, stdout }
}

try {
  await aws(['s3', 'mb', `s3://${BUCKET}`])
  const file = await payloadFile(join(WORK, 'payload'), size)
  const contentMd5 = Buffer.from(file.md5, 'hex').toString('base64')
  const startServer = (nodeFlags: string[]) =>
    startServerProcess(
      process.execPath,
      [
        ...[...nodeFlags, BIN, '--port', '0', '--store', `s3://${BUCKET}/hs`],
        ...['--s3-endpoint', endpoint, '--s3-path-style', '--s3-max-parts', '1000'],
        ...['--s3-part-size', '8M', '--s3-parts-in-flight', '4'],
      ],
      env as Record<string, string>,
    )
  const server = await startServer([])
  // V8's young generation capped at 1 MiB: the socket's spent chunks are freed sooner.
  const small = await startServer(['--max-semi-space-size=1'])
  const viaServer = async (headers: string[], to = server) => {
    const rss = samplePeakRss(to.child.pid as number, 10)
    const run = await timed('curl', [
      ...['-sS', '--fail', '-T', file.path, ...headers, `${to.url}/`],
    ])
    if (run.stdout.trim() !== file.md5) throw new Error(`hash-server answered ${run.stdout}`)
    return { seconds: run.seconds, rss: rss.stop() }
  }
  const ways: Record<string, () => Promise<{ seconds: number; rss: number }>> = {
    'hash-server, curl -T': () => viaServer([]),
    'hash-server, curl -T with Content-MD5': () => viaServer(['-H', `Content-MD5: ${contentMd5}`]),
    'the same, node --max-semi-space-size=1': () =>
      viaServer(['-H', `Content-MD5: ${contentMd5}`], small),
    'rclone rcat': () =>
      timed(
        'rclone',
        ['rcat', '--s3-chunk-size', '8M', '--s3-upload-concurrency', '4', `sw:${BUCKET}/rclone`],
        file.path,
      ),
    'aws s3 cp -': () =>
      timed(AWS, ['--endpoint-url', endpoint, 's3', 'cp', '-', `s3://${BUCKET}/aws`], file.path),
  }
  const results = new Map<string, Array<{ seconds: number; rss: number }>>()
  console.log(
    `hash-server -> S3 (Swift s3api) benchmark: ${size / MiB} MiB, ${rounds} rounds, node ${process.version}`,
  )
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(ways)) {
      const result = await run()
      results.set(name, [...(results.get(name) ?? []), result])
      console.log(
        `  round ${round + 1} ${name}: ${mibPerSecond(size, result.seconds).toFixed(0)} MiB/s, peak RSS ${(result.rss / MiB).toFixed(0)} MiB`,
      )
      await aws(['s3', 'rm', '--recursive', `s3://${BUCKET}/`])
    }
  }
  const rate = (name: string) => median((results.get(name) ?? []).map((r) => size / r.seconds))
  const best = Math.max(rate('rclone rcat'), rate('aws s3 cp -'))
  console.log(
    `\n${table(
      Object.keys(ways).map((name) => ({
        way: name,
        'MiB/s (median)': mibPerSecond(rate(name), 1).toFixed(0),
        'vs the faster of rclone and aws': (rate(name) / best).toFixed(2),
        'peak RSS MiB (median)': (
          median((results.get(name) ?? []).map((r) => r.rss)) / MiB
        ).toFixed(0),
      })),
    )}`,
  )
  await server.stop()
  await small.stop()
} finally {
  await swift.stop()
  await rm(WORK, { recursive: true, force: true })
}
