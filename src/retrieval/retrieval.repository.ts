import type { Queryable } from '../db/index.js';

/** One ranked chunk with its document and source. */
export interface HitRow {
  id: number;
  source_id: string;
  source_name: string;
  classification: string;
  doc_id: string;
  doc_version: number;
  title: string;
  text: string;
  section_path: string[];
  start_offset: number;
  end_offset: number;
  token_count: number;
  metadata: Record<string, unknown>;
  indexed_at: Date;
  last_success_at: Date | null;
  freshness_sla_seconds: number | null;
  text_hash: string;
  score: number;
}

export interface SearchFilter {
  /** Principals of the caller; a chunk is visible when its access list shares one. */
  principals: string[];
  sourceIds?: string[] | undefined;
  /** Chunks whose metadata contains this JSON object. */
  metadata?: Record<string, unknown> | undefined;
}

/** The columns of a hit: the chunk `c`, its document `d` and its source `s`. */
export const HIT_COLUMNS = `c.id, c.source_id, s.name as source_name, s.classification, c.doc_id, c.doc_version, d.title, c.text, c.section_path,
  c.start_offset, c.end_offset, c.token_count, c.metadata, d.indexed_at, s.last_success_at, s.freshness_sla_seconds, c.text_hash`;

/** The principals a user holds: `*`, the user by id and email, and each team by id and name. */
export async function principalsOfUser(q: Queryable, userId: string): Promise<{ email: string; principals: string[] } | null> {
  const { rows } = await q.query<{ email: string; team_id: string | null; team_name: string | null }>(
    `select u.email, t.id as team_id, t.name as team_name from users u
     left join team_members m on m.user_id = u.id left join teams t on t.id = m.team_id
     where u.id = $1 or u.email = lower($1)`,
    [userId],
  );
  const first = rows[0];
  if (!first) return null;
  const { rows: ids } = await q.query<{ id: string }>('select id from users where email = $1', [first.email]);
  const set = new Set(['*', `user:${first.email}`, `user:${ids[0]?.id.toLowerCase() ?? ''}`]);
  for (const r of rows) if (r.team_id && r.team_name) set.add(`team:${r.team_id.toLowerCase()}`).add(`team:${r.team_name}`);
  return { email: first.email, principals: [...set].sort() };
}

/** The principals of a team key: `*` and the team by id and name. */
export async function principalsOfTeam(q: Queryable, teamId: string): Promise<string[]> {
  const { rows } = await q.query<{ name: string }>('select name from teams where id = $1', [teamId]);
  return ['*', `team:${teamId.toLowerCase()}`, ...(rows[0] ? [`team:${rows[0].name}`] : [])].sort();
}

/** Chunks by id, with their document and source (vector search and fusion read hits through this). */
export async function hitsById(q: Queryable, ids: number[]): Promise<HitRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await q.query<HitRow>(
    `select ${HIT_COLUMNS}, 0::float8 as score from chunks c
     join documents d on d.source_id = c.source_id and d.doc_id = c.doc_id
     join sources s on s.id = c.source_id where c.id = any($1::bigint[])`,
    [ids],
  );
  return rows;
}
