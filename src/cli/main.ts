import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYamlText } from 'yaml';
import { Command, CommanderError, Option } from 'commander';
import { packageVersion, startBanner, startServer } from '../app/index.js';
import { SCOPES, TEAM_ROLES, type Scope, type TeamRole } from '../access/index.js';
import { loadConfig, type Config } from '../config/index.js';
import { isTarmacError, TarmacError } from '../errors/index.js';
import { CLASSIFICATIONS, type Classification } from '../policies/index.js';
import { SEARCH_MODES, type SearchMode } from '../retrieval/index.js';
import { TASK_STATUSES } from '../review/index.js';
import type { SyncCounts } from '../sources/index.js';
import { formatChanges } from '../workspace/index.js';
import { SPEND_GROUPS, type SpendQuery } from '../gateway/index.js';
import { connect, type TarmacClient } from './client.js';
import { addEvalCommands } from './evals.js';

/** Exit codes of `tarmac`. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

class ExitError extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Text without a line end (streamed answers); `out` when absent. */
  write?: (text: string) => void;
}

async function withConfig<T>(config: Config, serverPort: number | null, fn: (client: TarmacClient) => Promise<T>): Promise<T> {
  const client = await connect(config, { serverPort });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

const indent = (text: string): string =>
  text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** Builds the `tarmac` command tree. */
export function buildCli(io: Io, env: NodeJS.ProcessEnv = process.env): Command {
  const config = () => loadConfig(env);
  // A TARMAC_PORT of its own says a server is meant to be there.
  const withClient = <T>(fn: (client: TarmacClient) => Promise<T>): Promise<T> => {
    const cfg = config();
    return withConfig(cfg, env.TARMAC_PORT ? cfg.port : null, fn);
  };
  const program = new Command('tarmac')
    .description('Tarmac: take enterprise AI use cases from pilot to production.')
    .version(packageVersion())
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .exitOverride();

  program
    .command('serve')
    .description('Serve the API (embedded database unless TARMAC_DATABASE_URL is set); seeds the demo workspace on first start')
    .option('--port <port>', 'port (overrides TARMAC_PORT)')
    .option('--host <host>', 'interface (overrides TARMAC_HOST)')
    .option('--replace-admin-key', "install on a new database even where another installation's admin-key file is (kept as admin-key.replaced-<time>)")
    .action(async (opts: { port?: string; host?: string; replaceAdminKey?: boolean }) => {
      const cfg = loadConfig({ ...env, ...(opts.port ? { TARMAC_PORT: opts.port } : {}), ...(opts.host ? { TARMAC_HOST: opts.host } : {}) });
      // Listening (and ready) comes before the job workers start: a signal in between stops the server once started.
      let early: NodeJS.Signals | null = null;
      let onSignal = (signal: NodeJS.Signals) => {
        early = signal;
      };
      process.once('SIGTERM', (signal) => onSignal(signal));
      process.once('SIGINT', (signal) => onSignal(signal));
      const server = await startServer(cfg, { replaceAdminKey: opts.replaceAdminKey ?? false });
      io.out(startBanner(server));
      await new Promise<void>((resolve) => {
        onSignal = (signal: NodeJS.Signals) => {
          server.services.logger.info({ signal }, 'stopping');
          server.stop().then(resolve, (err: unknown) => {
            server.services.logger.error({ err }, 'error while stopping');
            resolve();
          });
        };
        if (early) onSignal(early);
      });
    });

  program
    .command('apply')
    .description('Create or update what tarmac.yaml declares (users, teams, policies, sources, prompts, datasets, use cases, gateway); shows the diff; idempotent and audited')
    .requiredOption('-f, --file <file>', 'the tarmac.yaml to apply')
    .option('--dry-run', 'show the diff without changing anything')
    .option('--json', 'machine-readable output')
    .action(async (opts: { file: string; dryRun?: boolean; json?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(opts.file, 'utf8');
      } catch (err) {
        throw new TarmacError('config_invalid', `cannot read ${opts.file}: ${(err as Error).message}`);
      }
      const result = await withClient((c) => c.apply(text, opts.file, opts.dryRun ?? false, namedFiles(text, opts.file)));
      if (opts.json) return io.out(JSON.stringify(result, null, 2));
      io.out(formatChanges(result.changes));
      const n = result.changes.length;
      io.out(result.dryRun ? `dry run: ${n} change(s) would be applied` : n === 0 ? 'up to date' : `applied ${n} change(s)`);
    });

  const audit = program.command('audit').description('The tamper-evident audit log');
  audit
    .command('verify')
    .description('Recompute the hash chain and checkpoints; exit 0 when intact, 1 when broken (prints the first broken entry)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const result = await withClient((c) => c.verifyAudit());
      if (opts.json) io.out(JSON.stringify(result, null, 2));
      else if (result.ok) {
        io.out(`audit log intact: ${result.entries} entries, ${result.checkpoints} signed checkpoint(s), head ${result.headSeq} (${result.durationMs} ms)`);
        if (result.warning) io.err(`warning: ${result.warning}`);
      } else {
        io.err(`audit log BROKEN at entry ${result.firstBrokenSeq}: ${result.problem}`);
      }
      if (!result.ok) throw new ExitError(EXIT.failure);
    });

  const keys = program.command('keys').description('API keys');
  keys
    .command('create')
    .description('Create an API key; the token is printed once')
    .requiredOption('--name <name>', 'what the key is for')
    .option('--user <user>', 'user id or email the key acts as (default: yourself)')
    .option('--team <team>', 'team id or name, for an application key')
    .addOption(new Option('--role <role>', 'role of a team key in its team').choices(TEAM_ROLES))
    .option('--scopes <scopes>', `comma-separated: ${SCOPES.join(',')}`, 'read,write')
    .option('--expires-in-days <days>', 'expiry in days')
    .addOption(new Option('--classification <classification>', 'data classification of model requests that name none').choices(CLASSIFICATIONS))
    .option('--json', 'machine-readable output')
    .action(async (opts: { name: string; user?: string; team?: string; role?: TeamRole; scopes: string; expiresInDays?: string; classification?: Classification; json?: boolean }) => {
      if (opts.role && !opts.team) throw new TarmacError('validation_failed', '--role applies to team keys only: add --team');
      const days = opts.expiresInDays === undefined ? undefined : Number(opts.expiresInDays);
      if (days !== undefined && (!Number.isInteger(days) || days < 1)) throw new TarmacError('validation_failed', '--expires-in-days must be a whole number of days');
      const scopes = opts.scopes.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (bad.length > 0) throw new TarmacError('validation_failed', `unknown scope(s): ${bad.join(', ')}`);
      const result = await withClient((c) =>
        c.createKey({
          name: opts.name,
          user: opts.user,
          team: opts.team,
          teamRole: opts.role,
          scopes: scopes as Scope[],
          classification: opts.classification,
          expiresAt: days ? new Date(Date.now() + days * 86_400_000) : null,
        }),
      );
      if (opts.json) return io.out(JSON.stringify(result, null, 2));
      io.out(result.token);
      io.err(`created key ${result.key.prefix} (${result.key.scopes.join(', ')}); the token above is shown only once`);
    });
  keys
    .command('list')
    .description('List keys you can see')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const list = await withClient((c) => c.listKeys());
      if (opts.json) return io.out(JSON.stringify(list, null, 2));
      io.out(
        table([
          ['ID', 'NAME', 'OWNER', 'SCOPES', 'EXPIRES', 'LAST USED', 'STATUS'],
          ...list.map((k) => [
            k.prefix,
            k.name,
            k.userId ?? `team ${k.teamId} (${k.teamRole})`,
            k.scopes.join(','),
            k.expiresAt ?? '-',
            k.lastUsedAt ?? '-',
            k.revokedAt ? 'revoked' : k.expiresAt && Date.parse(k.expiresAt) <= Date.now() ? 'expired' : 'active',
          ]),
        ]),
      );
    });
  keys
    .command('revoke')
    .description('Revoke a key by id (tmk_…)')
    .argument('<id>', 'key id, with or without the tmk_ prefix')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      const key = await withClient((c) => c.revokeKey(id));
      if (opts.json) return io.out(JSON.stringify(key, null, 2));
      io.out(`revoked ${key.prefix}`);
    });

  program
    .command('ask')
    .description('Run a use case: the governed answer with its citations, groundedness and decision; exit 1 unless delivered or flagged')
    .argument('<usecase>', 'use case name')
    .argument('<question>', 'the question or task')
    .option('--as <user>', 'run on behalf of this user (platform admins and act_as keys)')
    .option('--stream', 'print the answer as the run releases it')
    .option('--json', 'machine-readable output')
    .action(async (useCase: string, question: string, opts: { as?: string; stream?: boolean; json?: boolean }) => {
      let streamed = false;
      const print = (text: string) => {
        streamed = true;
        (io.write ?? io.out)(text);
      };
      const result = await withClient((c) => (opts.stream && !opts.json ? c.askStream(useCase, question, opts.as, print) : c.ask(useCase, question, opts.as)));
      if (opts.json) io.out(JSON.stringify(result, null, 2));
      else {
        if (streamed) io.out('');
        else if (result.answer !== null) io.out(result.answer);
        for (const c of result.citations) io.out(`  [${c.ref}] ${c.title || c.documentId} (${c.source}/${c.documentId}): "${c.quote.replace(/\s+/g, ' ').slice(0, 160)}"`);
        const g =
          (result.groundedness ? ` · groundedness ${result.groundedness.score.toFixed(2)} (needs ${result.groundedness.threshold})` : '') +
          (result.relevance ? ` · relevance ${result.relevance.score.toFixed(2)} (needs ${result.relevance.threshold})` : '');
        io.err(`${result.decision ?? result.status}${g} · run ${result.runId} · ${result.latencyMs} ms · $${result.costUsd.toFixed(6)}`);
        for (const reason of result.reasons) io.err(`  reason: ${reason.message}`);
        if (result.decision === 'held_for_review') io.err(`  held: the team's reviewers decide it (tarmac review list); its answer is released at GET /api/v1/runs/${result.runId} once approved`);
      }
      if (result.decision !== 'delivered' && result.decision !== 'flagged') throw new ExitError(EXIT.failure);
    });

  const review = program.command('review').description('The review queue: runs held for a person to decide');
  review
    .command('list')
    .description('Review tasks of the teams you review for (default: open ones)')
    .option('--mine', 'only tasks assigned to you')
    .addOption(new Option('--status <status>', 'task status').choices(TASK_STATUSES).default('open'))
    .option('--json', 'machine-readable output')
    .action(async (opts: { mine?: boolean; status: string; json?: boolean }) => {
      const tasks = await withClient((c) => c.reviews(opts.mine ?? false, opts.status));
      if (opts.json) return io.out(JSON.stringify(tasks, null, 2));
      io.out(table([['TASK', 'RUN', 'KIND', 'STATUS', 'ASSIGNEE', 'DUE', 'LEVEL'], ...tasks.map((t) => [t.id, t.runId, t.kind, t.status, t.assigneeEmail ?? t.assigneeUserId ?? '-', t.dueAt, `${t.escalationLevel}/${t.escalationSteps}`])]));
    });
  review
    .command('show')
    .description('A review task with what the reviewer decides on: the input, the answer, its citations and scores, the context')
    .argument('<task>', 'review task id')
    .option('--json', 'machine-readable output (the task and its run)')
    .action(async (taskId: string, opts: { json?: boolean }) => {
      const { task, run } = await withClient(async (c) => {
        const t = await c.review(taskId);
        return { task: t, run: await c.run(t.runId) };
      });
      if (opts.json) return io.out(JSON.stringify({ task, run }, null, 2));
      const g = run.groundedness;
      io.out(
        [
          `task ${task.id} · ${task.kind} · ${task.status} · assignee ${task.assigneeEmail ?? task.assigneeUserId ?? '-'} · due ${task.dueAt} · escalation ${task.escalationLevel}/${task.escalationSteps} · on timeout ${task.timeoutAction}`,
          `run ${run.runId} · ${run.useCase} · ${run.decision ?? run.status} · by ${run.userId ?? run.keyId ?? '-'} · ${run.createdAt}`,
          ...run.reasons.map((r) => `  reason: ${r.message}`),
          '',
          'input:',
          indent(run.input),
          '',
          `answer${task.kind === 'sample' ? ' (delivered, sampled for review)' : task.status === 'open' ? ' (held)' : ''}:`,
          indent(task.editedAnswer ?? run.answer ?? '(not shown: your own run, or the task is closed and the answer was not released)'),
          '',
          g ? `groundedness ${g.score.toFixed(2)} (needs ${g.threshold}${g.judge ? `; judge ${g.judge.model}: ${g.judge.score ?? g.judge.error}` : ''})` : 'groundedness: not checked',
          run.relevance ? `relevance ${run.relevance.score.toFixed(2)} (needs ${run.relevance.threshold})${run.relevance.missing.length > 0 ? ` · not addressed: ${run.relevance.missing.join(', ')}` : ''}` : 'relevance: not checked',
          ...run.citations.map((c) => `  [${c.ref}] supported by ${c.title || c.documentId} (${c.source}/${c.documentId}): "${c.quote.replace(/\s+/g, ' ')}"`),
          ...(g?.unsupported ?? []).map((u) => `  unsupported: "${u.text}"${u.missing.length > 0 ? ` (not in the context: ${u.missing.join(', ')})` : ''}`),
          '',
          'context:',
          ...(run.manifest?.chunks.length ? run.manifest.chunks.map((c) => `  [${c.ref}] ${c.title || c.documentId} (${c.source}/${c.documentId}) · score ${c.score.toFixed(2)}${c.freshness.stale ? ' · stale' : ''}`) : ['  (none)']),
        ].join('\n'),
      );
    });
  review
    .command('assign')
    .description("Assign an open task to a reviewer or owner of its team (team owners and admins)")
    .argument('<task>', 'review task id')
    .argument('<user>', 'email or id of the person who decides it')
    .option('--json', 'machine-readable output')
    .action(async (task: string, user: string, opts: { json?: boolean }) => {
      const assigned = await withClient((c) => c.assignReview(task, user));
      if (opts.json) return io.out(JSON.stringify(assigned, null, 2));
      io.out(`assigned ${assigned.id} to ${user} (due ${assigned.dueAt})`);
    });
  review
    .command('approve')
    .description('Approve a held answer (or deliver your edit of it with --edit)')
    .argument('<task>', 'review task id')
    .option('--edit <answer>', 'deliver this answer instead')
    .option('--json', 'machine-readable output')
    .action(async (task: string, opts: { edit?: string; json?: boolean }) => {
      const decided = await withClient((c) => c.decide(task, opts.edit ? { action: 'edit', answer: opts.edit } : { action: 'approve' }));
      if (opts.json) return io.out(JSON.stringify(decided, null, 2));
      io.out(`${decided.status} ${decided.id}: run ${decided.runId} released`);
    });
  review
    .command('reject')
    .description('Reject a held answer: the run is blocked')
    .argument('<task>', 'review task id')
    .requiredOption('--reason <reason>', 'why (recorded on the run and in the audit log)')
    .option('--json', 'machine-readable output')
    .action(async (task: string, opts: { reason: string; json?: boolean }) => {
      const decided = await withClient((c) => c.decide(task, { action: 'reject', reason: opts.reason }));
      if (opts.json) return io.out(JSON.stringify(decided, null, 2));
      io.out(`rejected ${decided.id}: run ${decided.runId} blocked`);
    });

  const prompts = program.command('prompts').description('The prompt registry: versions, labels, diffs');
  const versionNumber = (value: string, what: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new TarmacError('validation_failed', `${what} must be a version number (1, 2, …)`);
    return n;
  };
  prompts
    .command('list')
    .description('Prompts of your teams, with their latest version and labels')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const list = await withClient((c) => c.listPrompts());
      if (opts.json) return io.out(JSON.stringify(list, null, 2));
      io.out(
        table([
          ['NAME', 'TEAM', 'LATEST', 'LABELS'],
          ...list.map((p) => [p.name, p.team, `v${p.latestVersion}`, Object.entries(p.labels).map(([l, v]) => `${l}=v${v}`).join(' ')]),
        ]),
      );
    });
  prompts
    .command('show')
    .description('One version of a prompt (default: the one labelled production)')
    .argument('<name>', 'prompt name')
    .option('--version <n>', 'version number')
    .option('--label <label>', 'label', 'production')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { version?: string; label: string; json?: boolean }) => {
      const selector = opts.version ? { version: versionNumber(opts.version, '--version') } : { label: opts.label };
      const v = await withClient((c) => c.getPromptVersion(name, selector));
      if (opts.json) return io.out(JSON.stringify(v, null, 2));
      io.out(`${v.prompt} v${v.version}${v.labels.length ? ` [${v.labels.join(', ')}]` : ''}  ${v.createdAt}${v.note ? `  ${v.note}` : ''}`);
      for (const m of v.messages) io.out(`\n[${m.role}]\n${m.content}`);
      const vars = Object.entries(v.variables);
      if (vars.length) io.out(`\nvariables: ${vars.map(([k, s]) => `${k} (${s.type}${s.required ? '' : ', optional'})`).join(', ')}`);
      if (Object.keys(v.model).length) io.out(`model: ${JSON.stringify(v.model)}`);
    });
  prompts
    .command('diff')
    .description('Unified diff between two versions')
    .argument('<name>', 'prompt name')
    .argument('<from>', 'version number')
    .argument('<to>', 'version number')
    .option('--json', 'machine-readable output')
    .action(async (name: string, from: string, to: string, opts: { json?: boolean }) => {
      const d = await withClient((c) => c.diffPrompt(name, versionNumber(from, 'from'), versionNumber(to, 'to')));
      if (opts.json) return io.out(JSON.stringify(d, null, 2));
      io.out(d.patch.trimEnd());
    });
  prompts
    .command('label')
    .description('Point a label at a version (rollback = move it back); production needs a team owner')
    .argument('<name>', 'prompt name')
    .argument('<label>', 'label, e.g. production or staging')
    .argument('<version>', 'version number')
    .option('--override-gate <reason>', "move production past a failing promotion gate, with this reason (audited; team owners and admins)")
    .option('--json', 'machine-readable output')
    .action(async (name: string, label: string, version: string, opts: { overrideGate?: string; json?: boolean }) => {
      const summary = await withClient((c) => c.movePromptLabel(name, label, versionNumber(version, 'version'), opts.overrideGate));
      if (opts.json) return io.out(JSON.stringify(summary, null, 2));
      io.out(`${name}: ${label} → v${summary.labels[label]}`);
    });

  program
    .command('sync')
    .description('Sync a source now through its connector; shows progress and a summary; exit 1 when the sync fails')
    .argument('<source>', 'source name or id')
    .option('--json', 'machine-readable output')
    .action(async (source: string, opts: { json?: boolean }) => {
      const started = Date.now();
      const result = await withClient((c) =>
        c.sync(source, (counts) => {
          if (!opts.json) io.err(progressLine(counts, Date.now() - started));
        }),
      );
      if (opts.json) io.out(JSON.stringify(result, null, 2));
      else {
        const c = result.counts;
        io.out(
          `${result.status === 'succeeded' ? 'synced' : 'sync FAILED'} ${source} in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
            `${c.seen} seen, ${c.added} added, ${c.updated} updated, ${c.unchanged} unchanged, ${c.deleted} deleted, ${c.failed} failed, ${c.quarantined} quarantined` +
            (result.resumed ? ` (took over interrupted run ${result.resumed})` : ''),
        );
        if (result.error) io.err(`error: ${result.error}`);
      }
      if (result.status !== 'succeeded') throw new ExitError(EXIT.failure);
    });

  program
    .command('search')
    .description('Search the chunks you may read (or, as a platform admin, those USER may read)')
    .argument('<query>', 'the query')
    .option('--as <user>', 'search as this user (email or id; platform admins and act_as keys)')
    .option('-k, --k <k>', 'number of results', '10')
    .option('--source <sources>', 'comma-separated source names')
    .addOption(new Option('--mode <mode>', 'ranking').choices(SEARCH_MODES))
    .option('--json', 'machine-readable output')
    .action(async (query: string, opts: { as?: string; k: string; source?: string; mode?: SearchMode; json?: boolean }) => {
      const k = Number(opts.k);
      if (!Number.isInteger(k) || k < 1 || k > 200) throw new TarmacError('validation_failed', '-k must be a whole number from 1 to 200');
      const result = await withClient((c) =>
        c.search({ query, k, ...(opts.mode ? { mode: opts.mode } : {}), ...(opts.as ? { as: opts.as } : {}), ...(opts.source ? { sources: opts.source.split(',').map((s) => s.trim()) } : {}) }),
      );
      if (opts.json) return io.out(JSON.stringify(result, null, 2));
      for (const warning of result.warnings) io.err(`warning: ${warning}`);
      if (result.results.length === 0) return io.out(`no results as ${result.as}`);
      result.results.forEach((h, i) => {
        const where = [h.source, h.documentId, ...(h.sectionPath.length > 0 ? [h.sectionPath.join(' > ')] : [])].join(' · ');
        io.out(`${i + 1}. ${h.title || h.documentId}  (${h.score.toFixed(3)})\n   ${where} · v${h.version} · ${h.classification}${h.stale ? ' · STALE' : ''}\n   ${h.text.replace(/\s+/g, ' ').slice(0, 200)}`);
      });
    });

  program
    .command('spend')
    .description('Model gateway spend, grouped by team, key, model, day and/or use case')
    .option('--group-by <groups>', `comma-separated: ${SPEND_GROUPS.join(', ')}`, 'team')
    .option('--from <date>', 'from this ISO date or time (default: 30 days ago)')
    .option('--to <date>', 'before this ISO date or time (default: now)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { groupBy: string; from?: string; to?: string; json?: boolean }) => {
      const groups = opts.groupBy.split(',').map((g) => g.trim());
      const bad = groups.filter((g) => !(SPEND_GROUPS as readonly string[]).includes(g));
      if (bad.length > 0) throw new TarmacError('validation_failed', `--group-by takes ${SPEND_GROUPS.join(', ')}; not ${bad.join(', ')}`);
      for (const [name, value] of [['--from', opts.from], ['--to', opts.to]] as const) {
        if (value !== undefined && Number.isNaN(Date.parse(value))) throw new TarmacError('validation_failed', `${name} must be an ISO date or time`);
      }
      const groupBy = groups as SpendQuery['groupBy'];
      const rows = await withClient((c) => c.spend({ groupBy, from: opts.from, to: opts.to }));
      if (opts.json) return io.out(JSON.stringify(rows, null, 2));
      io.out(
        table([
          [...groupBy.map((g) => g.toUpperCase()), 'REQUESTS', 'ERRORS', 'INPUT TOKENS', 'OUTPUT TOKENS', 'COST USD'],
          ...rows.map((r) => [...groupBy.map((g) => r[g] ?? '-'), String(r.requests), String(r.errors), String(r.inputTokens), String(r.outputTokens), r.costUsd.toFixed(6)]),
        ]),
      );
    });

  addEvalCommands(program, {
    out: io.out,
    err: io.err,
    withClient,
    table,
    exit: (code) => {
      throw new ExitError(code);
    },
  });

  return program;
}

/**
 * The files a tarmac.yaml names (`datasets[].file`), read relative to it, by the path written in it: the apply
 * sends them along, so a server never reads its own disk for a caller. A file that cannot be read is left out
 * (the apply then names it); a file that does not parse is left to the apply to report.
 */
function namedFiles(text: string, yamlFile: string): Record<string, string> {
  let doc: unknown;
  try {
    doc = parseYamlText(text);
  } catch {
    return {};
  }
  const datasets = (doc as { datasets?: unknown } | null)?.datasets;
  const files: Record<string, string> = {};
  for (const d of Array.isArray(datasets) ? datasets : []) {
    const file = (d as { file?: unknown } | null)?.file;
    if (typeof file !== 'string') continue;
    try {
      files[file] = readFileSync(path.resolve(path.dirname(yamlFile), file), 'utf8');
    } catch {
      // The apply reports the file it cannot have.
    }
  }
  return files;
}

/** One progress line of a sync: a bar of the documents written so far and the counts. */
function progressLine(c: SyncCounts, ms: number): string {
  const done = c.added + c.updated + c.unchanged + c.failed + c.quarantined;
  const width = 20;
  const filled = c.seen === 0 ? 0 : Math.round((done / Math.max(c.seen, 1)) * width);
  const rate = ms > 0 ? Math.round((c.seen / ms) * 1000) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${c.seen} seen · +${c.added} ~${c.updated} =${c.unchanged} -${c.deleted} !${c.failed} ?${c.quarantined} · ${rate} docs/s`;
}

/** The process's standard streams; output the reader no longer wants (`tarmac … | head`) is dropped. */
function processIo(): Io {
  let closed = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && !closed) throw err;
    closed = true;
  });
  const write = (text: string) => {
    if (!closed) process.stdout.write(text);
  };
  return { out: (s) => write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`), write };
}

/** Runs the CLI and returns its exit code. */
export async function runCli(argv: string[], io: Io = processIo(), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const program = buildCli(io, env);
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ExitError) return err.exitCode;
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? EXIT.ok : EXIT.usage;
    }
    if (isTarmacError(err)) {
      if (json) io.out(JSON.stringify(err.toJSON(), null, 2));
      else io.err(`error (${err.code}): ${err.message}`);
      return EXIT.failure;
    }
    io.err(`error: ${(err as Error).stack ?? String(err)}`);
    return EXIT.failure;
  }
}
