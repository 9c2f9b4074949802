// bad-input-cost: time per KB of pathological input (long unbroken runs, tiny sentences, digit groups) through
// the chat (local/extractive, with PII pseudonymisation on), push and search paths of an in-process server
// (in-memory PGlite), at several sizes; linear cost shows as the same ms/KB at every size. Prose of the SciFact
// corpus goes through the same paths as the baseline. Beside the times, the longest the event loop stalled
// during each path's requests. Search queries are cut to the API's bound of 10,000 characters.
//   node --import tsx bench/bad-input-cost.ts     (SIZES_KB=64,256,900 RUNS=3)
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { systemActor } from '../src/access/index.js';
import { openTestServer } from '../tests/support/server.js';
import { median, scifactCorpus } from './support.js';

const SIZES_KB = (process.env.SIZES_KB ?? '64,256,900').split(',').map(Number);
const RUNS = Number(process.env.RUNS ?? 3);
const SEARCH_MAX = 10_000;

const prose = scifactCorpus()
  .map((d) => d.text)
  .join('\n\n');
const base64ish = (n: number): string => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let x = 12345;
  let s = '';
  while (s.length < n) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += alphabet[(x >> 8) % 64];
  }
  return s;
};
// Each shape gives n characters; `salt` makes every run's text new (no memo or unchanged-document shortcut).
const SHAPES: Record<string, (n: number, salt: string) => string> = {
  prose: (n, salt) => `${salt} ${prose.slice(0, n)}`,
  one_letter: (n, salt) => salt + 'a'.repeat(n),
  dots: (n, salt) => salt + '.'.repeat(n),
  tiny_sentences: (n, salt) => salt + 'a.'.repeat(n / 2),
  at_runs: (n, salt) => `${salt}${'a%'.repeat(n / 2)}@`,
  base64: (n, salt) => salt + base64ish(n),
  digit_groups: (n, salt) => salt + '12 '.repeat(n / 3),
  one_word: (n, salt) => salt + 'claims '.repeat(n / 7),
};

const CONFIG = `version: 1
policies:
  - name: default
    egress:
      public: ["*"]
      internal: ["*"]
      confidential: ["*"]
      restricted: ["*"]
    pii:
      default: pseudonymise
`;

async function main(): Promise<void> {
  const loadStart = loadavg()[0] ?? 0;
  const s = await openTestServer({ bodyLimit: 2 * 1024 * 1024, maxDocumentBytes: 1024 * 1024 });
  await s.workspace.applyAs({ actor: systemActor('bench') }, CONFIG, 'bench.yaml', { dryRun: false });
  await s.identity.createTeam({ principal: s.admin }, { name: 'bulk' });
  await s.sources.declare({ principal: s.admin }, { name: 'bulk', team: 'bulk', connector: { type: 'push' }, acl: { default: ['*'], map: {} } });
  const headers = { authorization: `Bearer ${s.adminToken}`, 'content-type': 'application/json' };
  const post = async (url: string, body: unknown): Promise<number> => (await s.app.inject({ method: 'POST', url, headers, payload: JSON.stringify(body) })).statusCode;
  const paths: Record<string, (text: string, id: string) => Promise<number>> = {
    chat: (text) => post('/v1/chat/completions', { model: 'local/extractive', messages: [{ role: 'system', content: text }, { role: 'user', content: `What does it say? ${text.slice(0, 2000)}` }] }),
    push: (text, id) => post('/api/v1/sources/bulk/documents', { documents: [{ id, text }] }),
    search: (text) => post('/api/v1/search', { query: text.slice(0, SEARCH_MAX) }),
  };
  // Warm-up: the tokenizer's tables load and the code compiles on first use.
  for (const [name, run] of Object.entries(paths)) await run(SHAPES.tiny_sentences!(4096, 'warm'), `warm-${name}`);

  const msPerKb: Record<string, Record<string, Record<string, number>>> = {};
  const stallMs: Record<string, number> = {};
  const statuses = new Set<number>();
  for (const [path, run] of Object.entries(paths)) {
    msPerKb[path] = {};
    const stall = monitorEventLoopDelay({ resolution: 5 });
    stall.enable();
    for (const [shape, make] of Object.entries(SHAPES)) {
      msPerKb[path][shape] = {};
      for (const kb of SIZES_KB) {
        const samples: number[] = [];
        for (let r = 0; r < RUNS; r++) {
          const text = make(kb * 1024, `r${r}${shape}${kb}`);
          const measured = path === 'search' ? Math.min(text.length, SEARCH_MAX) : text.length;
          const t = performance.now();
          statuses.add(await run(text, `${shape}-${kb}-${r}`));
          samples.push((performance.now() - t) / (measured / 1024));
        }
        msPerKb[path][shape][`${kb}kb`] = Math.round(median(samples) * 1000) / 1000;
        process.stderr.write(`${path} ${shape} ${kb} KB: ${median(samples).toFixed(3)} ms/KB\n`);
      }
    }
    stall.disable();
    stallMs[path] = Math.round(stall.max / 1e5) / 10;
  }
  await s.close();

  const pathological = (path: string) => Object.entries(msPerKb[path]!).filter(([shape]) => shape !== 'prose');
  const worst = (path: string) => Math.max(...pathological(path).flatMap(([, bySize]) => Object.values(bySize)));
  // Growth: ms/KB at the largest size over ms/KB at the smallest (1 for linear cost, 4 for quadratic over a fourfold size).
  const growth = (path: string) =>
    Math.max(
      ...pathological(path).map(([, bySize]) => {
        const v = Object.values(bySize);
        return Math.round((v[v.length - 1]! / Math.max(v[0]!, 1e-3)) * 100) / 100;
      }),
    );
  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'bad-input-cost',
      runs: RUNS,
      sizes_kb: SIZES_KB,
      search_query_chars: SEARCH_MAX,
      loadavg_1m_at_start: loadStart,
      worst_ms_per_kb: { chat: worst('chat'), push: worst('push'), search: worst('search') },
      growth_largest_over_smallest: { chat: growth('chat'), push: growth('push'), search: growth('search') },
      prose_ms_per_kb: { chat: msPerKb.chat!.prose, push: msPerKb.push!.prose, search: msPerKb.search!.prose },
      max_event_loop_stall_ms: stallMs,
      statuses: [...statuses].sort(),
      ms_per_kb: msPerKb,
      loadavg_1m_at_end: loadavg()[0] ?? 0,
      target: { ms_per_kb: 1, growth: 'about 1 (linear)' },
    })}\n`,
  );
}

await main();
