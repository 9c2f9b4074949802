import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { systemActor } from '../access/index.js';
import { loadSigningKey, type SigningKey } from '../audit/index.js';
import { composeCapabilities, type Registry } from '../capability/index.js';
import type { Config } from '../config/index.js';
import { TarmacError } from '../errors/index.js';
import { migrate, openDatabase, type Database } from '../db/index.js';
import { findInstallation } from '../identity/index.js';
import { formatChanges } from '../workspace/index.js';
import { CAPABILITIES, type CapabilityServices } from './capabilities.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The demo workspace seeded into a new installation. */
export const DEMO_WORKSPACE_FILE = path.join(PACKAGE_ROOT, 'examples', 'tarmac.yaml');
export const ADMIN_EMAIL = 'admin@tarmac.local';

/**
 * The demo workspace as it is seeded: examples/tarmac.yaml with the demo knowledge folder made absolute, so the
 * demo source syncs whatever folder Tarmac was started from.
 */
export function demoWorkspaceText(): string {
  const knowledge = JSON.stringify(path.join(PACKAGE_ROOT, 'examples', 'knowledge'));
  return readFileSync(DEMO_WORKSPACE_FILE, 'utf8').replace(/^(\s+path:\s*)examples\/knowledge\s*$/m, (_match, lead: string) => `${lead}${knowledge}`);
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export function adminKeyPath(config: Config): string {
  return path.join(config.dataDirAbsolute, 'admin-key');
}

function signingKeyPath(config: Config): string {
  return config.auditSigningKeyFile ? path.resolve(config.auditSigningKeyFile) : path.join(config.dataDirAbsolute, 'audit-signing-key.pem');
}

/** Every service of Tarmac, built over one database: one per capability of `CAPABILITIES`, by its name. */
export interface Services extends CapabilityServices {
  config: Config;
  db: Database;
  logger: Logger;
  /** The built capabilities: their routes, jobs and close hooks. */
  registry: Registry;
  /** Set when this call installed Tarmac on a new database. */
  installed: boolean;
  /** Where an older admin key file was moved when this installation wrote its own. */
  replacedAdminKey: string | null;
  /** Sources the demo seed declared; their first sync is due. */
  seededSources: string[];
}

/** JSON logs: the server writes them to standard output; the CLI to standard error, beside its results. */
export function createLogger(config: Config, destination: 1 | 2 = 1): Logger {
  return pino({ level: config.logLevel, base: { service: 'tarmac' } }, pino.destination({ dest: destination, sync: true }));
}

/**
 * Writes the new installation's admin key. An older key file (say, of the embedded database before a move to
 * PostgreSQL) is kept beside it, never overwritten; only `replaceAdminKey` gets here with one. Returns the path of
 * the kept file, if any.
 */
function writeAdminKey(file: string, token: string): string | null {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let kept: string | null = null;
  if (existsSync(file)) {
    kept = `${file}.replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(file, kept);
  }
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return kept;
}

/**
 * Refuses to install Tarmac where another installation's admin key is: the key would be moved aside, and the
 * caller most likely meant that other installation.
 */
export function refuseOtherAdminKey(config: Config): void {
  const file = adminKeyPath(config);
  if (!existsSync(file)) return;
  throw new TarmacError(
    'conflict',
    `${file} holds the admin key of another installation, and this database (${config.databaseUrl ? 'TARMAC_DATABASE_URL' : `the embedded one in ${config.dataDirAbsolute}`}) is new: ` +
      'to reach that installation set TARMAC_URL (or TARMAC_DATABASE_URL), or give this one its own TARMAC_DATA_DIR; ' +
      '`tarmac serve --replace-admin-key` installs here and keeps the old file as admin-key.replaced-<time>',
  );
}

/**
 * Opens the database, applies migrations, and builds the services. On a new database it installs Tarmac:
 * the audit signing key, the platform admin and its key (written to TARMAC_DATA_DIR/admin-key, mode 0600),
 * and the demo workspace. A `TARMAC_CONFIG` file is validated and applied on every start. It refuses to install
 * where an admin key file already is, unless `replaceAdminKey`.
 *
 * @example
 * const services = await openServices(loadConfig(), { command: 'tarmac serve' });
 */
export async function openServices(config: Config, options: { command: string; logger?: Logger; replaceAdminKey?: boolean }): Promise<Services> {
  const logger = options.logger ?? createLogger(config, 2);
  if (!config.databaseUrl) mkdirSync(config.dataDirAbsolute, { recursive: true, mode: 0o700 });
  const db = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDirAbsolute,
    poolSize: config.poolSize,
    command: options.command,
  });
  let built: Registry | null = null;
  try {
    const { applied } = await migrate(db);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');

    const installation = await findInstallation(db);
    const isNew = installation === null;
    if (isNew && !options.replaceAdminKey) refuseOtherAdminKey(config);
    const keyFile = loadSigningKey(signingKeyPath(config), isNew);
    const trusted = installation?.auditPublicKey ?? keyFile?.publicKeyPem ?? null;
    let signingKey: SigningKey | null = keyFile;
    if (!keyFile) {
      logger.warn({ file: signingKeyPath(config) }, 'no audit signing key file; this process will not sign audit checkpoints');
    } else if (trusted && keyFile.publicKeyPem !== trusted) {
      logger.warn({ file: signingKeyPath(config) }, 'the audit signing key does not match the installation; this process will not sign checkpoints');
      signingKey = null;
    }
    const { services, registry } = await composeCapabilities(
      CAPABILITIES,
      { config, db, logger, localDir: config.databaseUrl ? null : config.dataDirAbsolute, serving: options.command === 'tarmac serve' },
      { audit: { signingKey, trustedPublicKey: trusted, localPublicKey: keyFile?.publicKeyPem ?? null } },
    );
    built = registry;
    const { identity, workspace } = services;

    let installed = false;
    let replacedAdminKey: string | null = null;
    let seededSources: string[] = [];
    if (isNew) {
      const result = await identity.bootstrap({
        adminEmail: ADMIN_EMAIL,
        auditPublicKey: signingKey?.publicKeyPem ?? null,
        persistKey: (token) => {
          replacedAdminKey = writeAdminKey(adminKeyPath(config), token);
        },
      });
      installed = result !== null;
      if (installed && config.seedDemo && existsSync(DEMO_WORKSPACE_FILE)) {
        const demo = await workspace.applyAs({ actor: systemActor('demo-seed') }, demoWorkspaceText(), 'examples/tarmac.yaml', { dryRun: false, readFrom: path.dirname(DEMO_WORKSPACE_FILE) });
        seededSources = demo.changes.filter((c) => c.kind === 'source' && c.op === 'create').map((c) => c.name);
        logger.info({ changes: demo.changes.length }, 'demo workspace seeded');
      }
    }

    if (config.configFile) {
      const file = path.resolve(config.configFile);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new Error(`TARMAC_CONFIG: cannot read ${file}: ${(err as Error).message}`);
      }
      const result = await workspace.applyAs({ actor: systemActor('config') }, text, config.configFile, { dryRun: false, readFrom: path.dirname(file) });
      if (result.changes.length > 0) logger.info({ file: config.configFile, diff: formatChanges(result.changes) }, 'configuration applied');
    }
    return { ...services, config, db, logger, registry, installed, replacedAdminKey, seededSources };
  } catch (err) {
    await built?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw err;
  }
}
