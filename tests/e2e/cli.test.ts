import { readdirSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { cliEnv, collect, ROOT, runCli, startCli, startServe, tempDataDir } from '../support/cli.js';

describe('tarmac CLI', () => {
  it('lists every command and exits 2 on usage errors', async () => {
    const env = cliEnv(tempDataDir());
    const help = await runCli(['--help'], env);
    expect(help.code).toBe(0);
    for (const cmd of ['serve', 'apply', 'audit', 'keys']) expect(help.stdout).toContain(cmd);
    const keysHelp = await runCli(['keys', '--help'], env);
    for (const cmd of ['create', 'list', 'revoke']) expect(keysHelp.stdout).toContain(cmd);
    const applyHelp = await runCli(['apply', '--help'], env);
    for (const section of ['users', 'teams', 'policies', 'sources', 'prompts', 'use cases', 'gateway']) expect(applyHelp.stdout).toContain(section);
    expect((await runCli(['frobnicate'], env)).code).toBe(2);
    expect((await runCli(['apply'], env)).code).toBe(2);
  });

  it('serves on the embedded database, bootstraps an admin key, and the CLI works through the running server', async () => {
    const dir = tempDataDir();
    const env = cliEnv(dir);
    const server = await startServe(env);
    try {
      const keyFile = path.join(dir, 'admin-key');
      const token = readFileSync(keyFile, 'utf8').trim();
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(server.output()).toContain(keyFile);
      expect(server.output()).not.toContain(token);

      const me = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(await me.json()).toMatchObject({ admin: true });
      // the demo workspace was seeded on first start
      const teams = (await (await fetch(`${server.url}/api/v1/teams`, { headers: { authorization: `Bearer ${token}` } })).json()) as { teams: { name: string }[] };
      expect(teams.teams.map((t) => t.name)).toContain('underwriting');

      const created = await runCli(['keys', 'create', '--name', 'ci', '--scopes', 'read', '--json'], env);
      expect(created.code, created.stderr).toBe(0);
      const { key, token: newToken } = JSON.parse(created.stdout) as { key: { id: string; scopes: string[] }; token: string };
      expect(key.scopes).toEqual(['read']);
      expect((await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${newToken}` } })).status).toBe(200);
      const listed = await runCli(['keys', 'list'], env);
      expect(listed.stdout).toContain(`tmk_${key.id}`);
      expect((await runCli(['keys', 'revoke', key.id], env)).code).toBe(0);
      expect((await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${newToken}` } })).status).toBe(401);
      const verify = await runCli(['audit', 'verify', '--json'], env);
      expect(verify.code).toBe(0);
      expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });

      // the demo prompt: list, show, then a second version through the API, a diff and a label move
      const prompts = await runCli(['prompts', 'list'], env);
      expect(prompts.stdout).toMatch(/underwriting-answer\s+underwriting\s+v1\s+production=v1/);
      const shown = await runCli(['prompts', 'show', 'underwriting-answer'], env);
      expect(shown.stdout).toContain('underwriting-answer v1 [production]');
      expect(shown.stdout).toContain('[user]\n{{question}}');
      const current = (await (await fetch(`${server.url}/api/v1/prompts/underwriting-answer/versions/1`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
        messages: unknown[];
        variables: unknown;
      };
      const added = await fetch(`${server.url}/api/v1/prompts/underwriting-answer/versions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [...current.messages, { role: 'user', content: 'Be brief.' }], variables: current.variables, labels: ['staging'] }),
      });
      expect(added.status).toBe(200);
      expect((await runCli(['prompts', 'diff', 'underwriting-answer', '1', '2'], env)).stdout).toContain('+Be brief.');
      // The demo use case's gate holds production to a passing eval run of version 2; an owner may override.
      const refused = await runCli(['prompts', 'label', 'underwriting-answer', 'production', '2'], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/error \(gate_failed\): .*no eval run of prompt version 2/);
      const moved = await runCli(['prompts', 'label', 'underwriting-answer', 'production', '2', '--override-gate', 'shipping the brief variant to test it'], env);
      expect(moved.stdout.trim()).toBe('underwriting-answer: production → v2');
      expect((await runCli(['prompts', 'label', 'underwriting-answer', 'production', 'two'], env)).code).toBe(1);
    } finally {
      server.child.kill('SIGTERM');
      await server.done;
    }
    // A dozen CLI processes one after another: on a busy two-core machine that can pass a minute.
  }, 180_000);

  it('finishes in-flight requests on SIGTERM, then closes the database', async () => {
    const dir = tempDataDir();
    const env = cliEnv(dir, { TARMAC_SEED_DEMO: 'false' });
    const server = await startServe(env);
    const token = readFileSync(path.join(dir, 'admin-key'), 'utf8').trim();
    const users = Array.from({ length: 400 }, (_, i) => `  - email: u${i}@example.com`).join('\n');
    const inflight = fetch(`${server.url}/api/v1/apply`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ yaml: `version: 1\nusers:\n${users}\n` }),
    });
    await new Promise((r) => setTimeout(r, 150));
    server.child.kill('SIGTERM');
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { changes: unknown[] }).changes).toHaveLength(400);
    const exit = await server.done;
    expect(exit.code).toBe(0);
    // all 400 users were committed: a dry run of the same file has nothing left to do
    const dry = await runCli(['apply', '-f', writeTemp(dir, `version: 1\nusers:\n${users}\n`), '--dry-run', '--json'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).changes).toEqual([]);
  });

  it('leaves either the old or the new state when apply is killed with -9', async () => {
    const n = 1000;
    const text = `version: 1\nusers:\n${Array.from({ length: n }, (_, i) => `  - email: k${i}@example.com`).join('\n')}\n`;
    // time a no-op and a whole apply elsewhere, so the kills land while the transaction runs
    const probeEnv = cliEnv(tempDataDir(), { TARMAC_SEED_DEMO: 'false' });
    await runCli(['keys', 'list'], probeEnv);
    let t = Date.now();
    await runCli(['apply', '-f', writeTemp(tempDataDir(), 'version: 1\n'), '--dry-run'], probeEnv);
    const noop = Date.now() - t;
    t = Date.now();
    expect((await runCli(['apply', '-f', writeTemp(tempDataDir(), text)], probeEnv)).code).toBe(0);
    const full = Date.now() - t;

    const dir = tempDataDir();
    const env = cliEnv(dir, { TARMAC_SEED_DEMO: 'false' });
    expect((await runCli(['keys', 'list'], env)).code).toBe(0); // installs
    const file = writeTemp(dir, text);
    const outcomes: number[] = [];
    for (const fraction of [0.35, 0.65, 0.9]) {
      const child = startCli(['apply', '-f', file], env);
      const done = collect(child);
      await new Promise((r) => setTimeout(r, noop + (full - noop) * fraction));
      child.kill('SIGKILL');
      await done;
      const dry = await runCli(['apply', '-f', file, '--dry-run', '--json'], env);
      expect(dry.code, dry.stderr).toBe(0);
      const pending = (JSON.parse(dry.stdout) as { changes: unknown[] }).changes.length;
      expect([0, n]).toContain(pending);
      outcomes.push(pending);
      if (pending === 0) break;
    }
    const final = await runCli(['apply', '-f', file], env);
    expect(final.code, final.stderr).toBe(0);
    expect((await runCli(['apply', '-f', file, '--dry-run', '--json'], env)).stdout).toContain('"changes": []');
    const verify = await runCli(['audit', 'verify'], env);
    expect(verify.code, verify.stderr).toBe(0);
  }, 300_000); // a dozen CLI processes in a row: slow on a loaded 2-core machine

  it('serve refuses to start on a bad TARMAC_CONFIG, naming file, path and line', async () => {
    const dir = tempDataDir();
    const file = writeTemp(dir, 'version: 1\npolicies:\n  - name: default\n    egress:\n      secret: [local]\n');
    const res = await runCli(['serve', '--port', '0'], cliEnv(dir, { TARMAC_CONFIG: file }));
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${file}:5: policies[0].egress.secret: unknown key`);
  });

  it('refuses to install over another installation\'s admin key unless serve is given --replace-admin-key', async () => {
    const dir = tempDataDir();
    writeFileSync(path.join(dir, 'admin-key'), 'tmk_from_another_installation\n', { mode: 0o600 });
    const env = cliEnv(dir, { TARMAC_SEED_DEMO: 'false' });
    const refused = await runCli(['keys', 'list', '--json'], env);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'conflict' } });
    expect(readdirSync(dir).sort()).toEqual(['admin-key']);
    expect(readFileSync(path.join(dir, 'admin-key'), 'utf8')).toBe('tmk_from_another_installation\n');

    const server = await startServe(env, ['--replace-admin-key']);
    server.child.kill('SIGTERM');
    await server.done;
    const kept = readdirSync(dir).filter((f) => f.startsWith('admin-key.replaced-'));
    expect(kept).toHaveLength(1);
    expect(readFileSync(path.join(dir, kept[0]!), 'utf8')).toBe('tmk_from_another_installation\n');
    expect(readFileSync(path.join(dir, 'admin-key'), 'utf8')).toMatch(/^tmk_[a-z2-9]{12}_/);
    // logs went to standard error: standard output is exactly the JSON result
    const res = await runCli(['keys', 'list', '--json'], env);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toHaveLength(1);
  }, 180_000);

  it('with TARMAC_PORT set, talks to the server on that port instead of installing in the data folder', async () => {
    const serverDir = tempDataDir();
    const server = await startServe(cliEnv(serverDir, { TARMAC_SEED_DEMO: 'false' }));
    try {
      // the CLI's folder holds the server's key but no database, as beside a server on PostgreSQL
      const dir = tempDataDir();
      const token = readFileSync(path.join(serverDir, 'admin-key'), 'utf8');
      writeFileSync(path.join(dir, 'admin-key'), token, { mode: 0o600 });
      const res = await runCli(['keys', 'list', '--json'], cliEnv(dir, { TARMAC_PORT: new URL(server.url).port }));
      expect(res.code, res.stderr).toBe(0);
      expect(JSON.parse(res.stdout)).toHaveLength(1);
      expect(readdirSync(dir)).toEqual(['admin-key']);
      expect(readFileSync(path.join(dir, 'admin-key'), 'utf8')).toBe(token);
    } finally {
      server.child.kill('SIGTERM');
      await server.done;
    }
  }, 180_000);

  it('exits quietly when the reader of its output stops early', async () => {
    const dir = tempDataDir();
    const env = cliEnv(dir, { TARMAC_SEED_DEMO: 'false' });
    const file = writeTemp(dir, `version: 1\nusers:\n${Array.from({ length: 3000 }, (_, i) => `  - email: pipe${i}@example.com`).join('\n')}\n`);
    const cli = [process.execPath, '--import', 'tsx', path.join(ROOT, 'src/cli/run.ts'), 'apply', '-f', file, '--dry-run', '--json'].map((a) => `'${a}'`).join(' ');
    const child = spawn('sh', ['-c', `{ ${cli}; echo "cli exit $?" >&2; } | head -c 10`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const res = await collect(child);
    expect(res.stdout).toHaveLength(10);
    expect(res.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
    expect(res.stderr).toContain('cli exit 0');
  }, 180_000);

  it('apply reports a bad file with file, path and line and exits 1', async () => {
    const dir = tempDataDir();
    const env = cliEnv(dir, { TARMAC_SEED_DEMO: 'false' });
    const file = writeTemp(dir, 'version: 1\nteams:\n  - name: ok\n    colour: blue\n');
    const res = await runCli(['apply', '-f', file], env);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${file}:4: teams[0].colour: unknown key`);
    const missing = await runCli(['apply', '-f', path.join(dir, 'nope.yaml')], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read/);
  });

  it('audit verify exits 1 and names the entry when a row was altered by hand', async () => {
    const dir = tempDataDir();
    const env = cliEnv(dir);
    const first = await runCli(['audit', 'verify'], env); // installs and seeds the demo workspace
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/audit log intact: \d+ entries/);
    const db = await PGlite.create(path.join(dir, 'pglite'));
    await db.exec(`alter table audit_entries disable trigger user;
      update audit_entries set after = '{"name":"mallory"}' where seq = 4;
      alter table audit_entries enable trigger user;`);
    await db.close();
    const broken = await runCli(['audit', 'verify'], env);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('BROKEN at entry 4');
    const json = await runCli(['audit', 'verify', '--json'], env);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, firstBrokenSeq: 4 });
  });
});

function writeTemp(dir: string, text: string): string {
  const file = path.join(dir, `t${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}
