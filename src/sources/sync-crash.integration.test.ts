// Crash test: a sync killed with SIGKILL in the middle, then run again, ends with exactly the documents and
// chunks of an uninterrupted sync (no duplicate, nothing missing).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../db/index.js';
import { BACKEND, createPostgresDatabase, POSTGRES_URL } from '../../tests/support/db.js';
import { ROOT } from '../../tests/support/cli.js';

const CHILD = path.join(ROOT, 'tests/support/sync-child.ts');
const DOCS = 2500;

/** Runs the child; with `killAfter`, sends SIGKILL once it reports that many documents written. */
function runChild(data: string, folder: string, killAfter?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, data, folder], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const seen = [...out.matchAll(/progress (\d+)/g)].map((m) => Number(m[1]));
    if (killAfter !== undefined && (seen[seen.length - 1] ?? 0) >= killAfter && child.exitCode === null) child.kill('SIGKILL');
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out })));
}

async function snapshot(db: Database): Promise<{ docs: string[]; chunks: string[]; statsOk: boolean }> {
  const docs = (await db.query<{ k: string }>("select doc_id || ' ' || content_hash || ' ' || status as k from documents order by doc_id")).rows.map((r) => r.k);
  const chunks = (
    await db.query<{ k: string }>("select doc_id || ' ' || ordinal || ' ' || start_offset || ' ' || end_offset || ' ' || md5(text) as k from chunks order by doc_id, ordinal")
  ).rows.map((r) => r.k);
  const { rows } = await db.query<{ bad: number }>(
    `select count(*)::int as bad from (select u.lexeme, count(*)::int as n from chunks c, unnest(c.tsv) u group by u.lexeme) x
     full join (select * from term_stats where df > 0) t on t.lexeme = x.lexeme where x.n is distinct from t.df`,
  );
  return { docs, chunks, statsOk: rows[0]!.bad === 0 };
}

describe(`sync killed with SIGKILL resumes without duplicates or gaps (${BACKEND})`, () => {
  let dir: string;
  let folder: string;
  const drops: (() => Promise<void>)[] = [];

  const newData = async (name: string): Promise<string> => {
    if (!POSTGRES_URL) return path.join(dir, name);
    const { url, drop } = await createPostgresDatabase();
    drops.push(drop);
    return url;
  };
  const open = (data: string) => (data.startsWith('postgres') ? openDatabase({ url: data, poolSize: 2 }) : openDatabase({ dataDir: data }));

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tarmac-crash-'));
    folder = path.join(dir, 'docs');
    for (let i = 0; i < DOCS; i++) {
      const sub = path.join(folder, `f${i % 10}`);
      mkdirSync(sub, { recursive: true });
      writeFileSync(path.join(sub, `doc${i}.md`), `# Document ${i}\n\nParagraph one of document ${i} talks about topic ${i % 37}.\n\n## Details\n\n${'More words about the subject. '.repeat(1 + (i % 7))}`);
    }
  });
  afterAll(async () => {
    for (const drop of drops) await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ends with the same documents and chunks as an uninterrupted sync', async () => {
    const clean = await newData('clean');
    const uninterrupted = await runChild(clean, folder);
    expect(uninterrupted.code, uninterrupted.out).toBe(0);

    const crashed = await newData('crashed');
    const killed = await runChild(crashed, folder, 600);
    expect(killed.signal, killed.out).toBe('SIGKILL');
    const resumed = await runChild(crashed, folder);
    expect(resumed.code, resumed.out).toBe(0);
    const result = JSON.parse(resumed.out.trim().split('\n').pop()!) as { status: string; resumed: string | null; counts: { unchanged: number } };
    expect(result.status).toBe('succeeded');
    expect(result.counts.unchanged).toBeGreaterThanOrEqual(600);

    const a = await open(clean);
    const b = await open(crashed);
    try {
      const [want, got] = [await snapshot(a), await snapshot(b)];
      expect(got.docs.length).toBe(DOCS);
      expect(got.docs).toEqual(want.docs);
      expect(got.chunks).toEqual(want.chunks);
      expect(got.statsOk && want.statsOk).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  }, 600_000);
});
