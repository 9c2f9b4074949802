#!/usr/bin/env node
// The `tarmac` command: runs the build in dist/ (made by `npm install` and `npm run build`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/run.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('tarmac is not built yet: run `npm run build` (npm install does it for you)\n');
  process.exit(1);
}
await import(entry.href);
