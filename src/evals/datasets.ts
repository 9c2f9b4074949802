import { createHash } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import { findTextProblem, TarmacError } from '../errors/index.js';
import { EvalCase, type EvalCaseInput } from './evals.schema.js';

export const DATASET_FORMATS = ['jsonl', 'csv'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

/** A case id derived from what the case asks: the same input and variables keep their id across versions. */
export function derivedCaseId(input: string, variables: Record<string, string>): string {
  const keys = Object.keys(variables).sort();
  const text = JSON.stringify([input, keys.map((k) => [k, variables[k]])]);
  return `c_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

/** Validates cases, gives each its id, and refuses the whole set on any bad case or repeated id. */
export function normaliseCases(raw: { line: number; value: unknown }[], origin: 'import' | 'api' | 'config'): EvalCase[] {
  const issues: { path: string; message: string }[] = [];
  const out: EvalCase[] = [];
  const seen = new Map<string, number>();
  for (const { line, value } of raw) {
    // A file's text is held to the same rules as a request's: no NUL, no lone surrogate, no prototype keys.
    const problem = findTextProblem(value);
    if (problem) {
      issues.push({ path: `line ${line}${problem.path.length ? `: ${problem.path.join('.')}` : ''}`, message: problem.message });
      continue;
    }
    const parsed = EvalCase.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues.slice(0, 5)) issues.push({ path: `line ${line}${issue.path.length ? `: ${issue.path.join('.')}` : ''}`, message: issue.message });
      continue;
    }
    const c = parsed.data;
    const id = c.id ?? derivedCaseId(c.input, c.variables);
    const before = seen.get(id);
    if (before !== undefined) {
      issues.push({ path: `line ${line}`, message: `case id ${id} repeats line ${before}` });
      continue;
    }
    seen.set(id, line);
    out.push({ ...c, id, origin: c.origin ?? { kind: origin } });
  }
  if (issues.length > 0) {
    throw new TarmacError('validation_failed', `the dataset has ${issues.length} invalid case(s); nothing was imported (first: ${issues[0]!.path}: ${issues[0]!.message})`, { issues: issues.slice(0, 100) });
  }
  return out;
}

/** Reads a JSONL file of cases: one JSON object per line, blank lines skipped; line numbers name the bad ones. */
export function parseJsonl(text: string): { line: number; value: unknown }[] {
  const out: { line: number; value: unknown }[] = [];
  const issues: { path: string; message: string }[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push({ line: i + 1, value: JSON.parse(line) });
    } catch (err) {
      issues.push({ path: `line ${i + 1}`, message: `not JSON: ${(err as Error).message}` });
    }
  });
  if (issues.length > 0) {
    throw new TarmacError('validation_failed', `the dataset has ${issues.length} malformed line(s); nothing was imported (first: ${issues[0]!.path}: ${issues[0]!.message})`, { issues: issues.slice(0, 100) });
  }
  return out;
}

const CSV_COLUMNS = ['id', 'input', 'expected', 'expected_documents', 'tags', 'variables', 'assertions', 'seed'] as const;

/**
 * Reads a CSV file of cases with a header row: `input` (required), `id`, `expected`, `expected_documents` and
 * `tags` (separated by `|`), `variables` and `assertions` (JSON), `seed`.
 */
export function parseCsvCases(text: string): { line: number; value: unknown }[] {
  let records: Record<string, string>[];
  try {
    records = parseCsv<Record<string, string>>(text, { columns: true, skip_empty_lines: true, bom: true, relax_column_count: false });
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw new TarmacError('validation_failed', `the CSV file is malformed${e.lines ? ` at line ${e.lines}` : ''}; nothing was imported: ${e.message}`, {
      issues: [{ path: e.lines ? `line ${e.lines}` : 'file', message: e.message }],
    });
  }
  const header = Object.keys(records[0] ?? {});
  const unknown = header.filter((h) => !(CSV_COLUMNS as readonly string[]).includes(h));
  if (unknown.length > 0) throw new TarmacError('validation_failed', `unknown CSV column(s): ${unknown.join(', ')} (known: ${CSV_COLUMNS.join(', ')})`, { issues: unknown.map((u) => ({ path: 'header', message: `unknown column ${u}` })) });
  const list = (v: string | undefined) => (v ? v.split('|').map((s) => s.trim()).filter((s) => s.length > 0) : []);
  const issues: { path: string; message: string }[] = [];
  const json = (v: string | undefined, line: number, column: string): unknown => {
    if (!v) return undefined;
    try {
      return JSON.parse(v);
    } catch (err) {
      issues.push({ path: `line ${line}: ${column}`, message: `not JSON: ${(err as Error).message}` });
      return undefined;
    }
  };
  const out = records.map((r, i) => {
    const line = i + 2;
    const value: Partial<Record<keyof EvalCaseInput, unknown>> = { input: r.input };
    if (r.id) value.id = r.id;
    if (r.expected) value.expected = r.expected;
    if (r.expected_documents) value.expectedDocuments = list(r.expected_documents);
    if (r.tags) value.tags = list(r.tags);
    if (r.variables) value.variables = json(r.variables, line, 'variables');
    if (r.assertions) value.assertions = json(r.assertions, line, 'assertions');
    if (r.seed) value.seed = Number(r.seed);
    return { line, value };
  });
  if (issues.length > 0) throw new TarmacError('validation_failed', `the CSV file has ${issues.length} bad cell(s); nothing was imported (first: ${issues[0]!.path}: ${issues[0]!.message})`, { issues });
  return out;
}

export function parseCases(text: string, format: DatasetFormat): { line: number; value: unknown }[] {
  return format === 'csv' ? parseCsvCases(text) : parseJsonl(text);
}

const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** A version's cases as a file: JSONL (every field) or CSV (the columns {@link parseCsvCases} reads). */
export function exportCases(cases: EvalCase[], format: DatasetFormat): string {
  if (format === 'jsonl') return cases.map((c) => JSON.stringify(c)).join('\n') + (cases.length ? '\n' : '');
  const rows = cases.map((c) =>
    [
      c.id,
      c.input,
      c.expected ?? '',
      c.expectedDocuments.join('|'),
      c.tags.join('|'),
      Object.keys(c.variables).length ? JSON.stringify(c.variables) : '',
      c.assertions.length ? JSON.stringify(c.assertions) : '',
      c.seed === undefined ? '' : String(c.seed),
    ]
      .map(csvCell)
      .join(','),
  );
  return [CSV_COLUMNS.join(','), ...rows].join('\n') + '\n';
}
