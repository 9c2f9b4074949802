import type { RecordAudit } from '../audit/index.js';
import type { Database, Queryable } from '../db/index.js';
import { TarmacError } from '../errors/index.js';
import type { Policy, PolicyRules } from './policies.schema.js';

interface PolicyRow {
  name: string;
  description: string;
  rules: PolicyRules;
  created_at: Date;
  updated_at: Date;
}

const view = (r: PolicyRow): Policy => ({
  name: r.name,
  description: r.description,
  rules: r.rules,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export async function findPolicy(q: Queryable, name: string): Promise<Policy | null> {
  const row = (await q.query<PolicyRow>('select * from policies where name = $1', [name])).rows[0];
  return row ? view(row) : null;
}

/** Creates or replaces a policy inside the caller's transaction, with its audit entry. */
export async function upsertPolicy(
  tx: Queryable,
  record: RecordAudit,
  input: { name: string; description: string; rules: PolicyRules },
): Promise<void> {
  const before = await findPolicy(tx, input.name);
  await tx.query(
    `insert into policies (name, description, rules) values ($1, $2, $3)
     on conflict (name) do update set description = excluded.description, rules = excluded.rules, updated_at = now()`,
    [input.name, input.description, JSON.stringify(input.rules)],
  );
  await record({
    action: before ? 'policy.updated' : 'policy.created',
    targetType: 'policy',
    targetId: input.name,
    before: before ? { description: before.description, rules: before.rules } : null,
    after: { description: input.description, rules: input.rules },
  });
}

/**
 * Platform-wide rule sets (egress, PII, budgets, autonomy, retention), declared in `tarmac.yaml`.
 *
 * @example
 * const policy = await policies.get('default');
 */
export class PolicyService {
  constructor(private readonly db: Database) {}

  async list(): Promise<Policy[]> {
    return (await this.db.query<PolicyRow>('select * from policies order by name')).rows.map(view);
  }

  async get(name: string): Promise<Policy> {
    const policy = await findPolicy(this.db, name);
    if (!policy) throw new TarmacError('not_found', `policy ${name} does not exist`);
    return policy;
  }
}
