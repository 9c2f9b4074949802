import { teamsWithRole, type Principal } from '../access/index.js';
import type { Database } from '../db/index.js';
import { listTeams } from '../identity/index.js';
import { SPEND_GROUPS, type SpendGroup, type SpendRow } from './gateway.schema.js';


export interface SpendQuery {
  groupBy: SpendGroup[];
  /** Inclusive, ISO date or time; default 30 days ago. */
  from?: string | undefined;
  /** Exclusive; default now. */
  to?: string | undefined;
}


const COLUMN: Record<SpendGroup, string> = {
  team: 'g.team_id',
  key: 'g.key_id',
  model: "g.provider || '/' || g.model",
  day: "to_char(date_trunc('day', g.at at time zone 'UTC'), 'YYYY-MM-DD')",
  usecase: 'g.use_case',
};

/**
 * Spend recorded by the gateway, grouped by team, key, model, day and/or use case. Platform admins see everything;
 * others see the teams they belong to and their own key.
 *
 * @example
 * const rows = await spend(db, principal, { groupBy: ['team', 'day'] });
 */
export async function spend(db: Database, principal: Principal, query: SpendQuery): Promise<SpendRow[]> {
  const from = query.from ? new Date(query.from) : new Date(Date.now() - 30 * 86_400_000);
  const to = query.to ? new Date(query.to) : new Date(Date.now() + 1000);
  const params: unknown[] = [from.toISOString(), to.toISOString()];
  let visible = '';
  if (!principal.isAdmin) {
    params.push(teamsWithRole(principal, 'viewer'), principal.keyId);
    visible = ' and (g.team_id = any($3::text[]) or g.key_id = $4)';
  }
  const groups = [...new Set(query.groupBy)];
  const select = SPEND_GROUPS.map((g) => (groups.includes(g) ? `${COLUMN[g]} as ${g}` : `null as ${g}`)).join(', ');
  const groupBy = groups.length > 0 ? `group by ${groups.map((g) => COLUMN[g]).join(', ')}` : '';
  const { rows } = await db.query<{
    team: string | null;
    key: string | null;
    model: string | null;
    day: string | null;
    usecase: string | null;
    requests: string | number;
    errors: string | number;
    input_tokens: string | number;
    output_tokens: string | number;
    cost_usd: string | number;
    estimated_usd: string | number;
  }>(
    `select ${select}, count(*) as requests, count(*) filter (where g.status <> 'ok') as errors,
       coalesce(sum(g.input_tokens), 0) as input_tokens, coalesce(sum(g.output_tokens), 0) as output_tokens,
       coalesce(sum(g.cost_usd), 0) as cost_usd, coalesce(sum(g.cost_usd) filter (where g.cost_estimated), 0) as estimated_usd
     from gateway_traces g
     where g.at >= $1 and g.at < $2 and g.status <> 'refused'${visible}
     ${groupBy}
     order by cost_usd desc, requests desc`,
    params,
  );
  // Teams by name, read through identity: gateway traces keep the team's id.
  const names = groups.includes('team') ? new Map((await listTeams(db)).map((t) => [t.id, t.name])) : new Map<string, string>();
  return rows.map((r) => ({
    team: r.team === null ? null : (names.get(r.team) ?? r.team),
    key: r.key,
    model: r.model,
    day: r.day,
    usecase: r.usecase,
    requests: Number(r.requests),
    errors: Number(r.errors),
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    costUsd: Number(r.cost_usd),
    estimatedCostUsd: Number(r.estimated_usd),
  }));
}
