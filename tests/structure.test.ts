// The folder boundaries of docs/architecture.md: each capability folder is reached only through its
// index.ts, dependencies point inward (nothing depends on http, cli or app but the layers above them),
// and every folder under src/ has an index.ts.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Which folders may import a folder; folders not named here may be imported by any folder. */
const ALLOWED_IMPORTERS: Record<string, readonly string[]> = {
  http: ['app', 'cli'],
  cli: ['app', 'cli'],
  app: ['cli'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts') ? [full] : [];
  });
}

interface Import {
  /** File relative to src/, e.g. `audit/audit.service.ts`. */
  file: string;
  specifier: string;
  /** Folder of the importing file. */
  from: string;
  /** Target relative to src/ (relative imports only), e.g. `db/index.js`. */
  target: string | null;
}

function importsOf(file: string): Import[] {
  const rel = path.relative(SRC, file).split(path.sep).join('/');
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map(({ fileName: specifier }) => {
    const target = specifier.startsWith('.') ? path.relative(SRC, path.resolve(path.dirname(file), specifier)).split(path.sep).join('/') : null;
    return { file: rel, specifier, from: rel.split('/')[0]!, target };
  });
}

const files = sourceFiles(SRC);
const imports = files.flatMap(importsOf);
const show = (i: Import) => `${i.file}: import '${i.specifier}'`;

/** Fails with every offending import in the message. */
function expectNone(found: string[], what: string): void {
  expect(found, `${what}:\n  ${found.join('\n  ')}\n`).toEqual([]);
}

describe('source structure', () => {
  it('finds the source files', () => {
    expect(files.length).toBeGreaterThan(20);
    expect(imports.some((i) => i.target === 'errors/index.js')).toBe(true);
  });

  it('imports another folder only through its index.ts', () => {
    const violations = imports.filter((i) => {
      if (i.target === null || i.target.startsWith('..')) return false;
      const folder = i.target.split('/')[0]!;
      return folder !== i.from && i.target !== `${folder}/index.js`;
    });
    expectNone(violations.map((i) => `${show(i)} (use '../${i.target!.split('/')[0]}/index.js')`), 'imports that reach inside another folder');
  });

  it('imports nothing from outside src/ but packages', () => {
    const violations = imports.filter((i) => i.target !== null && i.target.startsWith('..'));
    expectNone(violations.map(show), 'source files that import from outside src/');
  });

  it('keeps dependencies pointing inward: only app and cli import http and cli, only cli imports app', () => {
    const violations = imports.filter((i) => {
      if (i.target === null) return false;
      const folder = i.target.split('/')[0]!;
      const allowed = ALLOWED_IMPORTERS[folder];
      return folder !== i.from && allowed !== undefined && !allowed.includes(i.from);
    });
    expectNone(
      violations.map((i) => `${show(i)} (${i.target!.split('/')[0]} may be imported only by ${ALLOWED_IMPORTERS[i.target!.split('/')[0]!]!.join(', ')})`),
      'imports against the direction of dependencies',
    );
  });

  it('gives every folder under src/ an index.ts', () => {
    const folders = readdirSync(SRC).filter((name) => statSync(path.join(SRC, name)).isDirectory());
    expect(folders.length).toBeGreaterThan(5);
    const missing = folders.filter((name) => {
      try {
        return !statSync(path.join(SRC, name, 'index.ts')).isFile();
      } catch {
        return true;
      }
    });
    expectNone(missing.map((f) => `src/${f}/index.ts`), 'folders without an index.ts');
  });
});
