// The documentation and the code must agree: every environment variable, tarmac.yaml key, error code and
// route is documented, and the documentation names nothing that does not exist.
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCOPES, type Scope } from '../src/access/index.js';
import { ENV } from '../src/config/index.js';
import { buildCli } from '../src/cli/index.js';
import { ERROR_CODES, HTTP_STATUS } from '../src/errors/index.js';
import { REASON_CODES } from '../src/runs/index.js';
import { ASSERTION_TYPES } from '../src/evals/index.js';
import { DERIVED_METRICS, EVAL_METRIC_CODES, RETRIEVAL_KS } from '../src/metrics/index.js';
import { WorkspaceFile } from '../src/workspace/index.js';
import { openTestServer, type TestServer } from './support/server.js';

const doc = (name: string) => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');

interface Table {
  header: string[];
  rows: string[][];
}

/** The text under a markdown heading, up to the next heading of the same or a higher level. */
function section(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^#{1,6} /.test(l) && l.replace(/^#+ /, '').trim() === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = /^#+/.exec(lines[start]!)![0].length;
  const end = lines.findIndex((l, i) => i > start && /^#{1,6} /.test(l) && /^#+/.exec(l)![0].length <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

const cells = (line: string) => line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());

/** Every markdown table in `text`. */
function tables(text: string): Table[] {
  const out: Table[] = [];
  let current: Table | null = null;
  for (const line of text.split('\n')) {
    if (!line.trim().startsWith('|')) {
      current = null;
      continue;
    }
    if (!current) {
      current = { header: cells(line).map((c) => c.toLowerCase()), rows: [] };
      out.push(current);
    } else if (!/^\|[\s|:-]+\|$/.test(line.trim())) {
      current.rows.push(cells(line));
    }
  }
  return out;
}

/** The one table in `text` whose first column is headed `first`. */
function tableHeaded(text: string, first: string, where: string): Table {
  const found = tables(text).filter((t) => t.header[0] === first);
  if (found.length !== 1) throw new Error(`${where}: expected one table with first column "${first}", found ${found.length}`);
  return found[0]!;
}

/** `x` → x; anything else → null. */
const inBackticks = (cell: string | undefined) => /^`([^`]+)`$/.exec(cell ?? '')?.[1] ?? null;

function firstColumn(table: Table, where: string): string[] {
  return table.rows.map((row) => {
    const value = inBackticks(row[0]);
    if (value === null) throw new Error(`${where}: first cell "${row[0]}" is not written in backticks`);
    return value;
  });
}

const without = (a: Iterable<string>, b: Iterable<string>) => {
  const drop = new Set(b);
  return [...new Set(a)].filter((x) => !drop.has(x)).sort();
};

const duplicates = (list: string[]) => list.filter((x, i) => list.indexOf(x) !== i);

/** Fails with every offending name in the message, not just how many there are. */
function expectNone(found: string[], what: string): void {
  expect(found, `${what}:\n  ${found.join('\n  ')}\n`).toEqual([]);
}

// ── zod schema walk ─────────────────────────────────────────────────────────────────────────────────

interface ZodDef {
  type: string;
  [key: string]: unknown;
}
const defOf = (schema: unknown): ZodDef => (schema as { _zod: { def: ZodDef } })._zod.def;

const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'nonoptional', 'readonly', 'catch']);
const LEAVES = new Set(['record', 'string', 'number', 'int', 'boolean', 'bigint', 'enum', 'literal', 'date', 'null', 'undefined', 'any', 'unknown', 'nan', 'template_literal']);

/** Every key path of a zod 4 schema: objects give their keys, arrays add `[]`, wrappers are unwrapped. */
function keyPaths(schema: unknown, prefix = '', out: string[] = []): string[] {
  const def = defOf(schema);
  if (WRAPPERS.has(def.type)) return keyPaths(def.innerType, prefix, out);
  if (def.type === 'pipe') return keyPaths(def.in, prefix, out);
  if (def.type === 'lazy') return keyPaths((def.getter as () => unknown)(), prefix, out);
  if (def.type === 'array') return keyPaths(def.element, `${prefix}[]`, out);
  // a map with names of the user's choosing: documented as `<name>`
  if (def.type === 'record') {
    out.push(`${prefix}.<name>`);
    return keyPaths(def.valueType, `${prefix}.<name>`, out);
  }
  if (def.type === 'union') {
    for (const option of def.options as unknown[]) keyPaths(option, prefix, out);
    return out;
  }
  if (def.type === 'intersection') {
    keyPaths(def.left, prefix, out);
    return keyPaths(def.right, prefix, out);
  }
  if (def.type === 'object') {
    for (const [key, value] of Object.entries(def.shape as Record<string, unknown>)) {
      const path = prefix ? `${prefix}.${key}` : key;
      out.push(path);
      keyPaths(value, path, out);
    }
    return out;
  }
  if (LEAVES.has(def.type)) return out;
  throw new Error(`schema at "${prefix || '(root)'}" has zod type "${def.type}", which this walk does not know: teach it, so no key goes undocumented`);
}

// ── tests ───────────────────────────────────────────────────────────────────────────────────────────

describe('docs/configuration.md', () => {
  const markdown = doc('configuration.md');

  it('lists every environment variable in ENV, and no other', () => {
    const table = tableHeaded(section(markdown, 'Environment variables'), 'variable', 'configuration.md, Environment variables');
    const documented = firstColumn(table, 'configuration.md env table');
    const expected = Object.values(ENV).map((v) => v.env);
    expectNone(without(expected, documented), 'env vars in ENV (src/config/env.ts) missing from docs/configuration.md');
    expectNone(without(documented.filter((n) => n.startsWith('TARMAC_')), expected), 'TARMAC_* names in docs/configuration.md that ENV does not define');
    expectNone(documented.filter((n) => !n.startsWith('TARMAC_')), 'env table rows that are not TARMAC_* variables');
    expectNone(duplicates(documented), 'env vars documented twice');
  });

  it('gives the default of every environment variable that has one', () => {
    const table = tableHeaded(section(markdown, 'Environment variables'), 'variable', 'configuration.md, Environment variables');
    const defaults = new Map(table.rows.map((row) => [inBackticks(row[0]), row[1] ?? '']));
    const wrong: string[] = [];
    for (const spec of Object.values(ENV)) {
      const value = spec.schema.parse(undefined);
      if (value === undefined) continue;
      const cell = defaults.get(spec.env) ?? '';
      if (!cell.includes(`\`${value}\``)) wrong.push(`${spec.env}: default is ${value}, documented "${cell}"`);
    }
    expectNone(wrong, 'documented defaults that differ from src/config/env.ts');
  });

  it('lists every tarmac.yaml key path of the WorkspaceFile schema, and no other', () => {
    const table = tableHeaded(section(markdown, 'tarmac.yaml'), 'key', 'configuration.md, tarmac.yaml');
    const documented = firstColumn(table, 'configuration.md yaml table');
    const schemaPaths = keyPaths(WorkspaceFile);
    expect(schemaPaths.length).toBeGreaterThan(10);
    expectNone(without(schemaPaths, documented), 'tarmac.yaml keys in the WorkspaceFile schema missing from docs/configuration.md');
    expectNone(without(documented, schemaPaths), 'tarmac.yaml keys in docs/configuration.md that the WorkspaceFile schema does not have');
    expectNone(duplicates(documented), 'tarmac.yaml keys documented twice');
  });
});

describe('docs/errors.md', () => {
  it('lists every error code with its HTTP status, and no other code', () => {
    const table = tableHeaded(section(doc('errors.md'), 'Codes'), 'code', 'errors.md, Codes');
    const documented = new Map<string, string>();
    for (const [i, code] of firstColumn(table, 'errors.md table').entries()) documented.set(code, table.rows[i]![1] ?? '');
    expectNone(without(ERROR_CODES, documented.keys()), 'error codes in ERROR_CODES (src/errors/index.ts) missing from docs/errors.md');
    expectNone(without(documented.keys(), ERROR_CODES), 'codes in docs/errors.md that ERROR_CODES does not have');
    const wrongStatus = ERROR_CODES.filter((c) => documented.has(c) && documented.get(c) !== String(HTTP_STATUS[c])).map(
      (c) => `${c}: HTTP_STATUS says ${HTTP_STATUS[c]}, docs say "${documented.get(c)}"`,
    );
    expectNone(wrongStatus, 'error codes documented with the wrong HTTP status');
    expect(table.rows.length, 'error codes documented twice').toBe(documented.size);
  });
});

describe('docs/use-cases.md', () => {
  it('documents every reason code once, and no other', () => {
    const table = tableHeaded(section(doc('use-cases.md'), 'Reason codes'), 'code', 'use-cases.md, Reason codes');
    const documented = firstColumn(table, 'use-cases.md reason codes table');
    expectNone(without(REASON_CODES, documented), 'reason codes in REASON_CODES (src/usecases/reasons.ts) missing from docs/use-cases.md');
    expectNone(without(documented, REASON_CODES), 'codes in docs/use-cases.md that REASON_CODES does not have');
    expect(new Set(documented).size, 'reason codes documented twice').toBe(documented.length);
  });
});

describe('docs/evaluation.md', () => {
  /** Every code a first cell names: `a` / `b` cells name several, `x@k` stands for every cut-off. */
  const codesOf = (table: Table) =>
    table.rows.flatMap((row) => [...(row[0] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!)).flatMap((c) => (c.endsWith('@k') ? RETRIEVAL_KS.map((k) => c.replace(/@k$/, `@${k}`)) : [c]));

  it('defines every eval metric, and no other', () => {
    const documented = codesOf(tableHeaded(section(doc('evaluation.md'), 'Metrics'), 'metric', 'evaluation.md, Metrics'));
    expectNone(without(EVAL_METRIC_CODES, documented), 'metrics in EVAL_METRICS (src/metrics) missing from docs/evaluation.md');
    expectNone(without(documented, EVAL_METRIC_CODES), 'metrics in docs/evaluation.md that EVAL_METRICS does not have');
  });

  it('describes every assertion type, and no other', () => {
    const documented = codesOf(tableHeaded(section(doc('evaluation.md'), 'Assertions'), 'type', 'evaluation.md, Assertions'));
    expectNone(without(ASSERTION_TYPES, documented), 'assertion types missing from docs/evaluation.md');
    expectNone(without(documented, ASSERTION_TYPES), 'assertion types in docs/evaluation.md that the schema does not have');
  });

  it('lists every derived metric in docs/use-cases.md, and no other', () => {
    const documented = firstColumn(tableHeaded(section(doc('use-cases.md'), 'Derived metrics'), 'metric', 'use-cases.md, Derived metrics'), 'derived metrics');
    expectNone(without(DERIVED_METRICS, documented), 'derived metrics (src/metrics) missing from docs/use-cases.md');
    expectNone(without(documented, DERIVED_METRICS), 'derived metrics in docs/use-cases.md that DERIVED_METRICS does not have');
  });
});

describe('docs/api.md', () => {
  let services: TestServer;
  let app: FastifyInstance;
  let served: string[];
  let documented: { route: string; method: string; path: string; scope: Scope | 'public' }[];

  beforeAll(async () => {
    services = await openTestServer();
    app = services.app;
    const response = await app.inject({ method: 'GET', url: '/openapi.json', headers: { authorization: `Bearer ${services.adminToken}` } });
    expect(response.statusCode).toBe(200);
    const paths = response.json<{ paths: Record<string, Record<string, unknown>> }>().paths;
    served = Object.entries(paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));

    documented = tables(doc('api.md'))
      .filter((t) => t.header[0] === 'method' && t.header[1] === 'path')
      .flatMap((t) => t.rows)
      .map((row) => {
        const path = inBackticks(row[1]);
        const scopeCell = row[2] ?? '';
        const scope = scopeCell === 'public' ? 'public' : inBackticks(scopeCell);
        if (!path || !scope || (scope !== 'public' && !(SCOPES as readonly string[]).includes(scope))) {
          throw new Error(`docs/api.md: route row "${row.join(' | ')}" needs a \`path\` and a scope (\`read\`, \`write\`, \`admin\` or public)`);
        }
        const method = (row[0] ?? '').toUpperCase();
        return { route: `${method} ${path}`, method, path, scope: scope as Scope | 'public' };
      });
  });

  afterAll(async () => {
    await services?.close();
  });

  it('lists every route the server registers, and no other', () => {
    const names = documented.map((d) => d.route);
    expect(served.filter((r) => r.includes(' /api/v1/')).length).toBeGreaterThan(10);
    expectNone(without(served, names), 'routes the server registers that docs/api.md does not list');
    expectNone(without(names, served), 'routes in docs/api.md that the server does not register');
    expectNone(duplicates(names), 'routes documented twice');
  });

  it('states the scope each route actually requires', async () => {
    const tokenFor = new Map<string, string>();
    const token = async (scopes: Scope[]) => {
      const key = scopes.join(',');
      if (!tokenFor.has(key)) tokenFor.set(key, (await services.identity.createKey({ principal: services.admin }, { name: `docs ${key}`, scopes })).token);
      return tokenFor.get(key)!;
    };
    const wrong: string[] = [];
    for (const route of documented) {
      const url = route.path.replace(/\{seq\}/g, '1').replace(/\{[^}]+\}/g, 'docs-probe');
      const method = route.method as 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
      if (route.scope === 'public') {
        const response = await app.inject({ method, url });
        if (response.statusCode === 401) wrong.push(`${route.route}: documented public, but answers 401 without a key`);
        continue;
      }
      const scope = route.scope;
      const lacking = await app.inject({ method, url, headers: { authorization: `Bearer ${await token(SCOPES.filter((s) => s !== scope))}` } });
      if (lacking.statusCode !== 403 || !lacking.body.includes(`lacks the \\"${scope}\\" scope`)) {
        wrong.push(`${route.route}: documented scope ${scope}, but a key without it gets ${lacking.statusCode} ${lacking.body}`);
      }
      const holding = await app.inject({ method, url, headers: { authorization: `Bearer ${await token([scope])}` } });
      if (holding.statusCode === 401 || holding.body.includes(`lacks the \\"${scope}\\" scope`)) {
        wrong.push(`${route.route}: documented scope ${scope}, but a key with only ${scope} gets ${holding.statusCode} ${holding.body}`);
      }
    }
    expectNone(wrong, 'routes whose scope in docs/api.md differs from the route declaration');
  });
});

describe('README.md', () => {
  it('names every top-level CLI command in its CLI section, as `tarmac <command>`', () => {
    const text = section(readFileSync(new URL('../README.md', import.meta.url), 'utf8'), 'The CLI');
    const commands = buildCli({ out: () => undefined, err: () => undefined }, {}).commands.map((c) => c.name());
    expect(commands.length).toBeGreaterThan(5);
    expectNone(commands.filter((name) => !text.includes(`\`tarmac ${name}`)), 'CLI commands the README\'s CLI section does not name');
  });
});
