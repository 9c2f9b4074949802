// The folder boundaries of docs/architecture.md: each capability folder is reached only through its
// index.ts, dependencies point inward (nothing depends on http, cli or app but the layers above them),
// every folder under src/ has an index.ts, only a table's owner names it in SQL (tests/table-owners.ts), and
// capabilities are named in one list (src/app/capabilities.ts), which app, http and the test harness read.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { CAPABILITIES } from '../src/app/index.js';
import { SHARED_READS, TABLE_OWNERS } from './table-owners.js';

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

/** The text of every string and template literal of a file: where its SQL is. */
function literalsOf(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) out.push(node.text);
    else if (ts.isTemplateExpression(node)) out.push(node.head.text, ...node.templateSpans.map((span) => span.literal.text));
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

// A table named where SQL names one: after from, join, into, update, table, exists, analyze (lists too).
const TABLE_REFERENCE = /\b(?:from|join|into|update|table|exists|analyze|truncate)\s+((?:[a-z_]+\s*,\s*)*[a-z_]+)/gi;

describe('table ownership', () => {
  const MIGRATIONS = path.join(SRC, 'db', 'migrations');
  const created = readdirSync(MIGRATIONS).flatMap((name) => [...readFileSync(path.join(MIGRATIONS, name), 'utf8').matchAll(/create table (?:if not exists )?([a-z_]+)/g)].map((m) => m[1]!));

  it('gives every table of the migrations one owner, a folder that exists', () => {
    expect(created.length).toBeGreaterThan(20);
    expectNone(created.filter((t) => !(t in TABLE_OWNERS)), 'tables missing from TABLE_OWNERS (tests/table-owners.ts)');
    expectNone(Object.keys(TABLE_OWNERS).filter((t) => !created.includes(t)), 'tables in TABLE_OWNERS that no migration creates');
    expectNone(Object.values(TABLE_OWNERS).filter((f) => !statSync(path.join(SRC, f), { throwIfNoEntry: false })?.isDirectory()), 'owners that are not folders of src/');
  });

  it("names a table in SQL only in the folder that owns it (or a listed shared read)", () => {
    const shared = new Set(SHARED_READS.flatMap((r) => r.tables.map((t) => `${r.folder}:${t}`)));
    const violations: string[] = [];
    let references = 0;
    for (const file of files) {
      const folder = path.relative(SRC, file).split(path.sep)[0]!;
      const named = new Set<string>();
      for (const text of literalsOf(file)) for (const m of text.matchAll(TABLE_REFERENCE)) for (const t of m[1]!.split(/\s*,\s*/)) if (t in TABLE_OWNERS) named.add(t);
      references += named.size;
      for (const t of named) if (TABLE_OWNERS[t] !== folder && !shared.has(`${folder}:${t}`)) violations.push(`${path.relative(SRC, file)}: ${t} (owned by ${TABLE_OWNERS[t]})`);
    }
    expect(references).toBeGreaterThan(30);
    expectNone(violations, "SQL that names another folder's table (call the owner's public face, or list the read in SHARED_READS with why)");
  });
});

describe('advisory locks', () => {
  it('takes every advisory-lock key from the one registry, db/locks.ts', () => {
    const bare = files.filter((f) => !f.endsWith(path.join('db', 'locks.ts'))).filter((f) => /pg_(?:try_)?advisory\w*\(\s*\d|\b7_?246_?\d{3}\b/.test(readFileSync(f, 'utf8')));
    expectNone(bare.map((f) => path.relative(SRC, f)), 'files with an advisory-lock key of their own (use LOCK_KEYS from db/index.ts)');
  });
});

/** Each import of a file: the module it names and the bindings it takes (by their exported names). */
function importClausesOf(file: string): { specifier: string; names: string[] }[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  return source.statements.filter(ts.isImportDeclaration).map((decl) => {
    const names: string[] = [];
    const clause = decl.importClause;
    if (clause?.name) names.push('default');
    const bindings = clause?.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) names.push('*');
    if (bindings && ts.isNamedImports(bindings)) for (const el of bindings.elements) names.push((el.propertyName ?? el.name).text);
    return { specifier: (decl.moduleSpecifier as ts.StringLiteral).text, names };
  });
}

const TESTS = fileURLToPath(new URL('./', import.meta.url));
const folderNames = readdirSync(SRC).filter((name) => statSync(path.join(SRC, name)).isDirectory());
/** Folders whose index.ts exports a `capability`. */
const capabilityFolders = folderNames.filter((name) => {
  const index = path.join(SRC, name, 'index.ts');
  return statSync(index, { throwIfNoEntry: false })?.isFile() === true && /export \{[^}]*\bcapability\b[^}]*\}/.test(readFileSync(index, 'utf8'));
});

/**
 * What the composition root, the server and the test harness may take from a capability folder besides its
 * list entry, with why. Services, routes and jobs come from the list; a new capability adds nothing here.
 */
const WIRING_IMPORTS: Record<string, Record<string, readonly string[]>> = {
  // Installing Tarmac: the signing key and the installation row come before any service; the applied diff is logged.
  'src/app/app.ts': { audit: ['loadSigningKey', 'SigningKey'], identity: ['findInstallation'], workspace: ['formatChanges'] },
  // The OpenAI-compatible routes' errors carry OpenAI's `type`, for every error the server maps.
  'src/http/server.ts': { gateway: ['openAiErrorType'] },
  // The test installation's own signing key, and the option types tests pass.
  'tests/support/services.ts': { audit: ['generateSigningKey'], review: ['ReviewOptions'], retrieval: ['EmbeddingsConfig'] },
  'tests/support/server.ts': { retrieval: ['EmbeddingsConfig'] },
};

describe('the capability manifest', () => {
  it('lists every folder that exports a capability in src/app/capabilities.ts, under the folder\'s name', () => {
    expect(capabilityFolders.length).toBeGreaterThan(10);
    const listed = CAPABILITIES.map((c) => c.name);
    expectNone(capabilityFolders.filter((f) => !listed.includes(f as (typeof listed)[number])), 'folders exporting a capability missing from CAPABILITIES (src/app/capabilities.ts)');
    expectNone(listed.filter((name) => !capabilityFolders.includes(name)), 'capabilities named unlike the folder that exports them');
  });

  it('keeps the contract neutral: src/capability imports only access, config, db, errors and jobs', () => {
    const violations = imports.filter((i) => i.from === 'capability' && i.target !== null && !['access', 'config', 'db', 'errors', 'jobs', 'capability'].includes(i.target.split('/')[0]!));
    expectNone(violations.map(show), 'imports of the capability contract beyond the foundation');
  });

  it('names capabilities in app, http and the test harness only in the list', () => {
    const wiring = [
      ...readdirSync(path.join(SRC, 'app')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'capabilities.ts').map((f) => path.join(SRC, 'app', f)),
      ...readdirSync(path.join(SRC, 'http')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => path.join(SRC, 'http', f)),
      path.join(TESTS, 'support', 'services.ts'),
      path.join(TESTS, 'support', 'server.ts'),
    ];
    const violations: string[] = [];
    for (const file of wiring) {
      const rel = path.relative(path.join(SRC, '..'), file).split(path.sep).join('/');
      for (const { specifier, names } of importClausesOf(file)) {
        const folder = /\.\.\/(?:\.\.\/src\/)?([a-z]+)\/index\.js$/.exec(specifier)?.[1];
        if (!folder || !capabilityFolders.includes(folder)) continue;
        const allowed = WIRING_IMPORTS[rel]?.[folder] ?? [];
        for (const name of names) if (!allowed.includes(name)) violations.push(`${rel}: ${name} from ${folder}`);
      }
    }
    expectNone(violations, 'capability parts wired by hand (build them in the capability, or list the import in WIRING_IMPORTS with why)');
  });

  it('registers routes only from capabilities: no index.ts exports a register…Routes', () => {
    const exported = folderNames.filter((f) => /\bregister\w+Routes\b/.test(readFileSync(path.join(SRC, f, 'index.ts'), 'utf8').replace(/\/\*\*[\s\S]*?\*\//g, '')));
    expectNone(exported.map((f) => `src/${f}/index.ts`), 'index.ts files exporting route registration (the capability registers its routes)');
  });
});
