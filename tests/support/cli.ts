// Runs the real `tarmac` command (from source, through tsx) as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = path.join(ROOT, 'src/cli/run.ts');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function tempDataDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'tarmac-e2e-'));
}

export function cliEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['TARMAC_DATABASE_URL', 'TARMAC_URL', 'TARMAC_API_KEY', 'TARMAC_CONFIG', 'TARMAC_PORT']) delete env[name];
  return { ...env, TARMAC_DATA_DIR: dataDir, TARMAC_LOG_LEVEL: 'warn', ...extra };
}

export function startCli(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return collect(startCli(args, env));
}

/** Starts `tarmac serve` on a free port and waits until /readyz answers 200. */
export async function startServe(env: NodeJS.ProcessEnv, args: string[] = []): Promise<{ child: ChildProcess; url: string; output: () => string; done: Promise<CliResult> }> {
  const child = startCli(['serve', '--port', '0', ...args], env);
  const done = collect(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m?.[1]) {
      const url = m[1];
      const res = await fetch(`${url}/readyz`).catch(() => null);
      if (res?.status === 200) return { child, url, output: () => out, done };
    }
    if (child.exitCode !== null) throw new Error(`serve exited early:\n${out}`);
    if (Date.now() > deadline) throw new Error(`serve did not become ready:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
