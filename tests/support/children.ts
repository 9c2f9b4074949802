// Child processes for tests that need several OS processes at once: each connects, prints "ready", and
// waits for "go" on standard input, so the parent can release them at the same moment.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Child {
  /** Resolves once the child has connected and printed "ready". */
  ready: Promise<void>;
  /** Releases the child (it waits for "go" on stdin). */
  go(): void;
  done: Promise<ChildResult>;
  kill(): void;
}

/** Starts `node --import tsx SCRIPT ...args` in the repository root, stopped at a start barrier. */
export function spawnChild(script: string, args: string[], env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  let failReady: (err: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (/^ready$/m.test(stdout)) markReady();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<ChildResult>((resolve) => {
    child.on('close', (code) => {
      failReady(new Error(`${script} exited (${code}) before it was ready: ${stderr}`));
      resolve({ code, stdout, stderr });
    });
  });
  return {
    ready,
    done,
    go: () => child.stdin.end('go\n'),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Releases children together once all are ready; returns their results, killing any left on failure. */
export async function runTogether(children: Child[]): Promise<ChildResult[]> {
  try {
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    return await Promise.all(children.map((c) => c.done));
  } finally {
    for (const c of children) c.kill();
  }
}
