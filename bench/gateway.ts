// Benchmark `gateway`: the overhead Tarmac adds to a model call. A stub upstream (its own process) answers at
// once; the same load goes to it directly and through Tarmac (`tarmac serve` on the embedded database, with
// authentication, a budget and a rate limit, PII redaction and tracing on), at 200 and 500 requests/s, in
// alternating phases of one run. Prints one JSON line: added latency p50/p99 (Tarmac minus direct, medians of
// the rounds, with each round's figure), the highest open-loop rate sustained with zero errors, errors, and
// traces recorded vs sent.
//   node --import tsx bench/gateway.ts            (BENCH_ROUNDS, BENCH_PHASE_S to change the length)
// A phase lasts 10 s by default: at 500 requests/s its p99 is then the 50th slowest of 5,000 requests, so one
// stall of the shared machine (a few tens of milliseconds, a dozen requests) does not decide it on its own.
// With BENCH_DATABASE_URL=postgres://… Tarmac runs on a new database on that PostgreSQL server instead.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PHASE_S = Number(process.env.BENCH_PHASE_S ?? 10);
const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'bench-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Noted.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 24, completion_tokens: 2, total_tokens: 26 },
});

function runStub(): void {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(COMPLETION) });
      res.end(COMPLETION);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`));
}

function waitFor(child: ChildProcess, pattern: RegExp): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m?.[1]) resolve(m[1]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
  });
}

interface Phase {
  sent: number;
  ok: number;
  errors: number;
  latencies: number[];
  seconds: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 512 });

function send(url: URL, body: string, headers: Record<string, string>): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.end(body);
  });
}

/** Open loop: requests leave on schedule (to the millisecond) at `rate` per second, whether or not earlier ones have answered. */
async function phase(url: URL, body: string, headers: Record<string, string>, rate: number, seconds: number): Promise<Phase> {
  const result: Phase = { sent: 0, ok: 0, errors: 0, latencies: [], seconds };
  const total = Math.round(rate * seconds);
  const start = performance.now();
  const pending: Promise<void>[] = [];
  while (result.sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    while (result.sent < due) {
      result.sent++;
      pending.push(
        send(url, body, headers).then(({ status, ms }) => {
          if (status === 200) {
            result.ok++;
            result.latencies.push(ms);
          } else result.errors++;
        }),
      );
    }
    // A 1 ms timer, not setImmediate: spinning would take a whole core from the processes under test.
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  result.seconds = (performance.now() - start) / 1000;
  return result;
}

/** A new, empty database on the PostgreSQL server of `url`. */
async function newPostgresDatabase(url: string): Promise<string> {
  const { default: pg } = await import('pg');
  const name = `tarmac_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
const median = (values: number[]) => percentile(values, 50);
const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;

async function main(): Promise<void> {
  const stub = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'stub'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const stubPort = await waitFor(stub, /port (\d+)/);
  const dir = mkdtempSync(path.join(tmpdir(), 'tarmac-bench-'));
  const databaseUrl = process.env.BENCH_DATABASE_URL ? await newPostgresDatabase(process.env.BENCH_DATABASE_URL) : '';
  const config = path.join(dir, 'tarmac.yaml');
  writeFileSync(
    config,
    `version: 1
teams:
  - name: bench
policies:
  - name: default
    egress: { internal: ["*"], confidential: ["local"] }
    pii: { default: redact }
    budgets: { dailyUsd: 1000000 }
gateway:
  providers:
    - { name: stub, type: openai-compatible, baseUrl: http://127.0.0.1:${stubPort}/v1 }
  routes:
    - { name: bench, retries: 0, targets: [{ provider: stub, model: bench-model }] }
  prices:
    - { model: bench-model, inputPerMillion: 1, outputPerMillion: 2 }
  budgets:
    - { scope: team, name: bench, dailyUsd: 1000000, requestsPerMinute: 10000000 }
`,
  );
  const tarmac = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []), '--import', 'tsx', path.join(ROOT, 'src/cli/run.ts'), 'serve', '--port', '0'], {
    cwd: ROOT,
    env: { ...process.env, TARMAC_DATA_DIR: dir, TARMAC_CONFIG: config, TARMAC_SEED_DEMO: 'false', TARMAC_LOG_LEVEL: 'warn', TARMAC_DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tarmacUrl = await waitFor(tarmac, /listening on (http:\/\/\S+)/);
  const admin = readFileSync(path.join(dir, 'admin-key'), 'utf8').trim();
  // A team key: the team's budget and rate limit apply to every request.
  const created = await fetch(`${tarmacUrl}/api/v1/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', team: 'bench', scopes: ['read', 'write'] }),
  });
  const token = ((await created.json()) as { token: string }).token;

  const content = 'Please summarise the claim of Dr Jane Roe (jane.roe@example.com, +44 20 7946 0958) about hail damage to the roof.';
  const direct = { url: new URL(`http://127.0.0.1:${stubPort}/v1/chat/completions`), body: JSON.stringify({ model: 'bench-model', messages: [{ role: 'user', content }] }), headers: {} };
  const viaTarmac = { url: new URL(`${tarmacUrl}/v1/chat/completions`), body: JSON.stringify({ model: 'bench', messages: [{ role: 'user', content }] }), headers: { authorization: `Bearer ${token}` } };
  let sentToTarmac = 0;
  let errors = 0;
  const run = async (target: typeof direct, rate: number, seconds: number) => {
    const r = await phase(target.url, target.body, target.headers, rate, seconds);
    if (target === viaTarmac) sentToTarmac += r.sent;
    errors += r.errors;
    return r;
  };

  // Warm-up: JIT, connection pools, the route configuration and the principal cache.
  await run(direct, 300, 2);
  await run(viaTarmac, 300, 2);

  const added: Record<number, { p50: number[]; p99: number[]; directP50: number[]; tarmacP50: number[]; tarmacP99: number[] }> = {};
  for (let i = 0; i < ROUNDS; i++) {
    for (const rate of [200, 500]) {
      const d = await run(direct, rate, PHASE_S);
      const t = await run(viaTarmac, rate, PHASE_S);
      const a = (added[rate] ??= { p50: [], p99: [], directP50: [], tarmacP50: [], tarmacP99: [] });
      a.p50.push(percentile(t.latencies, 50) - percentile(d.latencies, 50));
      a.p99.push(percentile(t.latencies, 99) - percentile(d.latencies, 99));
      a.directP50.push(percentile(d.latencies, 50));
      a.tarmacP50.push(percentile(t.latencies, 50));
      a.tarmacP99.push(percentile(t.latencies, 99));
    }
  }

  // Highest open-loop rate Tarmac keeps up with: every request answered 200 and the achieved rate within 5%.
  let sustained = 0;
  const attempts: { rate: number; achieved: number; errors: number; p99Ms: number }[] = [];
  for (const rate of [1000, 1500, 2000, 2500, 3000]) {
    const r = await run(viaTarmac, rate, 3);
    const achieved = r.ok / r.seconds;
    attempts.push({ rate, achieved: Math.round(achieved), errors: r.errors, p99Ms: round(percentile(r.latencies, 99), 2) });
    if (r.errors > 0 || achieved < rate * 0.95) break;
    sustained = rate;
  }

  tarmac.kill('SIGTERM');
  await new Promise((r) => tarmac.on('exit', r));
  stub.kill('SIGTERM');
  const { openDatabase } = await import('../src/db/index.js');
  const db = await openDatabase(databaseUrl ? { url: databaseUrl } : { dataDir: dir });
  const recorded = Number((await db.query<{ n: string }>('select count(*) as n from gateway_traces')).rows[0]?.n ?? 0);
  await db.close();

  const figures = (rate: number) => {
    const a = added[rate]!;
    return {
      addedP50Ms: round(median(a.p50)),
      addedP99Ms: round(median(a.p99)),
      addedP99MsByRound: a.p99.map((v) => round(v, 2)),
      directP50Ms: round(median(a.directP50)),
      tarmacP50Ms: round(median(a.tarmacP50)),
      tarmacP99Ms: round(median(a.tarmacP99)),
    };
  };
  process.stdout.write(
    `${JSON.stringify({
      bench: 'gateway',
      database: databaseUrl ? 'postgres' : 'pglite',
      // The machine is shared: the load average says how much else ran during the measurement.
      loadAverage1m: round(loadavg()[0] ?? 0, 2),
      rounds: ROUNDS,
      phaseSeconds: PHASE_S,
      at200: figures(200),
      at500: figures(500),
      maxSustainedRps: sustained,
      sustainedAttempts: attempts,
      errors,
      requestsToTarmac: sentToTarmac,
      tracesRecorded: recorded,
      targets: { addedP50Ms: 1, addedP99Ms: 5, minSustainedRps: 1500 },
    })}\n`,
  );
}

if (process.argv[2] === 'stub') runStub();
else
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
