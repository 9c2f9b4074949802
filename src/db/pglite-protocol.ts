// Messages between the server thread and the embedded database's thread (see pglite-thread.ts).

/**
 * Settings of the embedded database's one session. Its pages are read from memory or the OS cache, so an index
 * probe costs about what a sequential page read does (PostgreSQL's default of 4 makes the planner scan small tables).
 */
export const SESSION_SETTINGS = 'set random_page_cost = 1.1';

export type ThreadRequest =
  | { id: number; op: 'query'; sql: string; params?: unknown[]; tx?: number }
  | { id: number; op: 'exec'; sql: string; tx?: number }
  | { id: number; op: 'begin'; tx: number }
  | { id: number; op: 'commit' | 'rollback'; tx: number }
  | { id: number; op: 'close' };

export type ThreadResponse = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: Record<string, unknown> };

/** A change announcement heard by the database's thread (sent before the answer to the statement that committed it). */
export interface ThreadChange {
  change: string;
}

/** An error as plain fields (message, name and PostgreSQL's code, detail, constraint …) that survive postMessage. */
export function errorFields(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err), name: 'Error' };
  const fields: Record<string, unknown> = { message: err.message, name: err.name };
  for (const [key, value] of Object.entries(err)) {
    if (value === undefined || typeof value === 'function' || (typeof value === 'object' && value !== null)) continue;
    fields[key] = value;
  }
  return fields;
}

/** The error again on this side: same message, name and fields, with the caller's stack. */
export function toError(fields: Record<string, unknown>): Error {
  const err = new Error(typeof fields.message === 'string' ? fields.message : 'database error');
  for (const [key, value] of Object.entries(fields)) if (key !== 'message' && key !== 'stack') Object.assign(err, { [key]: value });
  return err;
}
