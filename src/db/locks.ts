/**
 * Every PostgreSQL advisory-lock key Tarmac takes, in one place so no two uses can collide. Transaction-scoped
 * (`pg_advisory_xact_lock`), so a crashed process never leaves one held.
 */
export const LOCK_KEYS = {
  /** Processes starting together take turns migrating. */
  migrations: 7_246_001,
  /** Audit entries are appended one writer at a time, so the hash chain has no forks or gaps. */
  auditChain: 7_246_002,
  /** The installation is created once, by the first process that finds none. */
  install: 7_246_003,
  /** One `tarmac apply` at a time, so two applies never interleave their diffs. */
  apply: 7_246_004,
  /** Writers of chunks take turns, so term statistics never deadlock between processes. */
  searchIndex: 7_246_101,
} as const;
