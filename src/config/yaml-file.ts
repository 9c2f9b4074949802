import { readFileSync } from 'node:fs';
import { isAlias, isNode, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { findTextProblem, formatPath, MAX_NESTING_DEPTH, TarmacError } from '../errors/index.js';

/** One problem in a YAML file, located by file, path and line. */
export interface YamlIssue {
  file: string;
  path: string;
  line: number;
  column: number;
  message: string;
}

function locate(doc: Document, counter: LineCounter, path: PropertyKey[], preferKey: boolean): { line: number; col: number } {
  // Walk down as far as the path exists; report the deepest node found (or the key itself for unknown keys).
  for (let depth = path.length; depth >= 0; depth--) {
    const prefix = path.slice(0, depth) as (string | number)[];
    if (preferKey && depth === path.length && depth > 0) {
      const parent = prefix.length > 1 ? doc.getIn(prefix.slice(0, -1), true) : doc.contents;
      if (parent && isNode(parent) && 'items' in parent) {
        const items = (parent as { items: { key?: unknown }[] }).items;
        const last = prefix[prefix.length - 1];
        const pair = items.find((item) => isNode(item.key) && (item.key as { value?: unknown }).value === last);
        if (pair && isNode(pair.key) && pair.key.range) return counter.linePos(pair.key.range[0]);
      }
    }
    const node = depth === 0 ? doc.contents : doc.getIn(prefix, true);
    if (node && isNode(node) && node.range) return counter.linePos(node.range[0]);
  }
  return { line: 1, col: 1 };
}

/**
 * Parses a YAML text and validates it with a zod schema. Any syntax error, unknown key or wrong type becomes
 * a `config_invalid` error whose details list file, path and line of every problem.
 *
 * @example
 * const workspace = parseYaml(WorkspaceSchema, text, 'tarmac.yaml');
 */
export function parseYaml<T>(schema: z.ZodType<T>, text: string, file: string): T {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues: YamlIssue[] = doc.errors.map((e) => {
      const pos = counter.linePos(e.pos[0]);
      // The composer stops on very deep nesting with the engine's stack error; say what it means.
      const message = e.message.startsWith('Maximum call stack size exceeded') ? DEPTH_MESSAGE : (e.message.split('\n')[0] ?? e.message);
      return { file, path: '', line: pos.line, column: pos.col, message };
    });
    throw yamlError(issues);
  }
  const value = toJS(doc, counter, file);
  const problem = findTextProblem(value);
  if (problem) {
    const pos = locate(doc, counter, problem.path, problem.kind === 'forbidden_key');
    throw yamlError([{ file, path: formatPath(problem.path) || '(root)', line: pos.line, column: pos.col, message: problem.message }]);
  }
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issues: YamlIssue[] = [];
  for (const issue of result.error.issues) {
    const paths = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
    for (const p of paths) {
      const pos = locate(doc, counter, p, issue.code === 'unrecognized_keys');
      issues.push({
        file,
        path: formatPath(p) || '(root)',
        line: pos.line,
        column: pos.col,
        message: issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message,
      });
    }
  }
  throw yamlError(issues);
}

const DEPTH_MESSAGE = `nested too deep: objects and arrays may nest at most ${MAX_NESTING_DEPTH} levels`;

/** Aliases a document may expand; more is an alias bomb ("billion laughs"). */
const MAX_ALIAS_COUNT = 100;

function toJS(doc: Document, counter: LineCounter, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    // The yaml package names no position; the first alias is where the expansion starts.
    let at = 0;
    visit(doc, (_key, node) => {
      if (!isAlias(node)) return undefined;
      at = node.range?.[0] ?? 0;
      return visit.BREAK;
    });
    const pos = counter.linePos(at);
    throw yamlError([{ file, path: '', line: pos.line, column: pos.col, message: err.message }]);
  }
}

function yamlError(issues: YamlIssue[]): TarmacError {
  const lines = issues.map((i) => `${i.file}:${i.line}: ${i.path ? `${i.path}: ` : ''}${i.message}`);
  return new TarmacError('config_invalid', `invalid configuration:\n  ${lines.join('\n  ')}`, { issues });
}

/**
 * A `config_invalid` error located at `path` of a YAML text: for problems found after validation, such as a
 * reference to something that does not exist.
 *
 * @example
 * throw yamlErrorAt(text, 'tarmac.yaml', ['teams', 0, 'members', 1, 'user'], 'unknown user bob@example.com');
 */
export function yamlErrorAt(text: string, file: string, path: (string | number)[], message: string): TarmacError {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  const pos = locate(doc, counter, path, false);
  return yamlError([{ file, path: formatPath(path), line: pos.line, column: pos.col, message }]);
}

/** Reads a YAML file from disk and validates it (see {@link parseYaml}). */
export function readYamlFile<T>(schema: z.ZodType<T>, file: string): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TarmacError('config_invalid', `cannot read ${file}: ${(err as Error).message}`, {
      issues: [{ file, path: '', line: 0, column: 0, message: (err as Error).message }],
    });
  }
  return parseYaml(schema, text, file);
}
