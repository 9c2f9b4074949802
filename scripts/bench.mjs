// `npm run bench -- NAME [ARGS…]`: runs bench/NAME.ts under tsx, passing ARGS through; lists the benchmarks otherwise.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const benchDir = fileURLToPath(new URL('../bench/', import.meta.url));
const available = existsSync(benchDir)
  ? readdirSync(benchDir)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .map((f) => f.slice(0, -3))
      .sort()
  : [];

const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  if (name) process.stderr.write(`unknown benchmark: ${name}\n`);
  process.stderr.write(`usage: npm run bench -- NAME [ARGS…]\navailable benchmarks: ${available.join(', ') || '(none)'}\n`);
  process.exit(2);
}

const child = spawn(process.execPath, ['--import', 'tsx', `${benchDir}${name}.ts`, ...args], { stdio: 'inherit' });
// Forward Ctrl-C and termination so the benchmark can clean up (stop servers, remove temp folders).
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
