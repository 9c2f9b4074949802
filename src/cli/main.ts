import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { packageVersion, startBanner, startServer } from '../app/index.js';
import type { Scope, TeamRole } from '../access/index.js';
import { loadConfig, type Config } from '../config/index.js';
import { isTarmacError, TarmacError } from '../errors/index.js';
import { formatChanges } from '../workspace/index.js';
import { SPEND_GROUPS, type SpendQuery } from '../models/index.js';
import { connect, type TarmacClient } from './client.js';

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
}

async function withClient<T>(config: Config, fn: (client: TarmacClient) => Promise<T>): Promise<T> {
  const client = await connect(config);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** Builds the `tarmac` command tree. */
export function buildCli(io: Io, env: NodeJS.ProcessEnv = process.env): Command {
  const config = () => loadConfig(env);
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
    .action(async (opts: { port?: string; host?: string }) => {
      const cfg = loadConfig({ ...env, ...(opts.port ? { TARMAC_PORT: opts.port } : {}), ...(opts.host ? { TARMAC_HOST: opts.host } : {}) });
      const server = await startServer(cfg);
      io.out(startBanner(server));
      await new Promise<void>((resolve) => {
        const onSignal = (signal: NodeJS.Signals) => {
          server.services.logger.info({ signal }, 'stopping');
          server.stop().then(resolve, (err: unknown) => {
            server.services.logger.error({ err }, 'error while stopping');
            resolve();
          });
        };
        process.once('SIGTERM', onSignal);
        process.once('SIGINT', onSignal);
      });
    });

  program
    .command('apply')
    .description('Create or update what tarmac.yaml declares (teams, users, policies); shows the diff; idempotent and audited')
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
      const result = await withClient(config(), (c) => c.apply(text, opts.file, opts.dryRun ?? false));
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
      const result = await withClient(config(), (c) => c.verifyAudit());
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
    .addOption(new Option('--role <role>', 'role of a team key in its team').choices(['owner', 'builder', 'reviewer', 'viewer']))
    .option('--scopes <scopes>', 'comma-separated: read,write,admin', 'read,write')
    .option('--expires-in-days <days>', 'expiry in days')
    .addOption(new Option('--classification <classification>', 'data classification of model requests that name none').choices(['public', 'internal', 'confidential', 'restricted']))
    .option('--json', 'machine-readable output')
    .action(async (opts: { name: string; user?: string; team?: string; role?: TeamRole; scopes: string; expiresInDays?: string; classification?: 'public' | 'internal' | 'confidential' | 'restricted'; json?: boolean }) => {
      if (opts.role && !opts.team) throw new TarmacError('validation_failed', '--role applies to team keys only: add --team');
      const days = opts.expiresInDays === undefined ? undefined : Number(opts.expiresInDays);
      if (days !== undefined && (!Number.isInteger(days) || days < 1)) throw new TarmacError('validation_failed', '--expires-in-days must be a whole number of days');
      const scopes = opts.scopes.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = scopes.filter((s) => !['read', 'write', 'admin'].includes(s));
      if (bad.length > 0) throw new TarmacError('validation_failed', `unknown scope(s): ${bad.join(', ')}`);
      const result = await withClient(config(), (c) =>
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
      const list = await withClient(config(), (c) => c.listKeys());
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
      const key = await withClient(config(), (c) => c.revokeKey(id));
      if (opts.json) return io.out(JSON.stringify(key, null, 2));
      io.out(`revoked ${key.prefix}`);
    });

  program
    .command('spend')
    .description('Model gateway spend, grouped by team, key, model and/or day')
    .option('--group-by <groups>', 'comma-separated: team, key, model, day', 'team')
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
      const rows = await withClient(config(), (c) => c.spend({ groupBy, from: opts.from, to: opts.to }));
      if (opts.json) return io.out(JSON.stringify(rows, null, 2));
      io.out(
        table([
          [...groupBy.map((g) => g.toUpperCase()), 'REQUESTS', 'ERRORS', 'INPUT TOKENS', 'OUTPUT TOKENS', 'COST USD'],
          ...rows.map((r) => [...groupBy.map((g) => r[g] ?? '-'), String(r.requests), String(r.errors), String(r.inputTokens), String(r.outputTokens), r.costUsd.toFixed(6)]),
        ]),
      );
    });

  return program;
}

/** Runs the CLI and returns its exit code. */
export async function runCli(argv: string[], io: Io = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) }, env: NodeJS.ProcessEnv = process.env): Promise<number> {
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
