import path from 'node:path';
import { z } from 'zod';
import { TarmacError } from '../errors/index.js';

/** One environment variable: its config key, schema (with default) and a one-line doc. */
interface EnvVar<T extends z.ZodType> {
  env: string;
  schema: T;
  doc: string;
}

function envVar<T extends z.ZodType>(env: string, schema: T, doc: string): EnvVar<T> {
  return { env, schema, doc };
}

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Every environment variable Tarmac reads. `docs/configuration.md` lists exactly these (a test checks). */
export const ENV = {
  databaseUrl: envVar(
    'TARMAC_DATABASE_URL',
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    'PostgreSQL connection URL; absent means the embedded PGlite database under TARMAC_DATA_DIR.',
  ),
  dataDir: envVar('TARMAC_DATA_DIR', z.string().min(1).default('./.tarmac'), 'Folder for the embedded database, the admin key and the audit signing key.'),
  port: envVar('TARMAC_PORT', int(0, 65535).default(8080), 'HTTP port of `tarmac serve`.'),
  host: envVar('TARMAC_HOST', z.string().min(1).default('127.0.0.1'), 'Interface `tarmac serve` listens on.'),
  configFile: envVar('TARMAC_CONFIG', z.string().min(1).optional(), 'A tarmac.yaml that `tarmac serve` validates and applies at start.'),
  seedDemo: envVar('TARMAC_SEED_DEMO', bool.default(true), 'Seed the demo workspace (examples/tarmac.yaml) when the database is new.'),
  bodyLimit: envVar('TARMAC_BODY_LIMIT', int(1024, 1024 * 1024 * 1024).default(1024 * 1024), 'Largest accepted request body, in bytes.'),
  logLevel: envVar(
    'TARMAC_LOG_LEVEL',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    'Log level of the JSON logs (server: standard output; CLI: standard error).',
  ),
  poolSize: envVar('TARMAC_DATABASE_POOL_SIZE', int(1, 200).default(10), 'Connections per process to PostgreSQL.'),
  auditCheckpointEvery: envVar(
    'TARMAC_AUDIT_CHECKPOINT_EVERY',
    int(1, 10_000_000).default(1000),
    'Sign an audit checkpoint every this many audit entries.',
  ),
  auditSigningKeyFile: envVar(
    'TARMAC_AUDIT_SIGNING_KEY_FILE',
    z.string().min(1).optional(),
    'Ed25519 private key (PEM) that signs audit checkpoints; default TARMAC_DATA_DIR/audit-signing-key.pem, created at install.',
  ),
  shutdownTimeoutMs: envVar(
    'TARMAC_SHUTDOWN_TIMEOUT_MS',
    int(0, 600_000).default(10_000),
    'How long a stopping server lets in-flight requests and running jobs finish before it cuts them off.',
  ),
  maxDocumentBytes: envVar(
    'TARMAC_MAX_DOCUMENT_BYTES',
    int(1024, 2 * 1024 * 1024 * 1024).default(50 * 1024 * 1024),
    'Largest document a source may index, in bytes; larger ones are marked failed with document_too_large.',
  ),
  authCacheMs: envVar(
    'TARMAC_AUTH_CACHE_MS',
    int(0, 60_000).default(5000),
    'How long a server reuses an authenticated key; revocations made through another process take effect within this time. 0 turns the cache off.',
  ),
  embeddingsUrl: envVar(
    'TARMAC_EMBEDDINGS_URL',
    z.string().url().optional(),
    'Base URL of an OpenAI-compatible embeddings API (…/v1); enables vector and hybrid search where pgvector exists.',
  ),
  embeddingsModel: envVar('TARMAC_EMBEDDINGS_MODEL', z.string().min(1).default('text-embedding-3-small'), 'Embedding model name sent to TARMAC_EMBEDDINGS_URL.'),
  embeddingsApiKey: envVar('TARMAC_EMBEDDINGS_API_KEY', z.string().min(1).optional(), 'API key for TARMAC_EMBEDDINGS_URL, if it needs one.'),
  embeddingsDimensions: envVar('TARMAC_EMBEDDINGS_DIMENSIONS', int(1, 4096).default(1536), 'Dimensions of the embedding model\'s vectors.'),
  embeddingsQueryTimeoutMs: envVar(
    'TARMAC_EMBEDDINGS_QUERY_TIMEOUT_MS',
    int(100, 60_000).default(3000),
    'How long embedding a search query may take; past it, hybrid search answers lexically with a warning.',
  ),
  url: envVar('TARMAC_URL', z.string().url().optional(), 'CLI: the server to talk to; absent means the CLI opens the database itself unless a local server holds it.'),
  apiKey: envVar('TARMAC_API_KEY', z.string().min(1).optional(), 'CLI: the API key to act with; default the bootstrap admin key in TARMAC_DATA_DIR/admin-key.'),
} as const;

type EnvSpec = typeof ENV;
export type Config = { [K in keyof EnvSpec]: z.output<EnvSpec[K]['schema']> } & { dataDirAbsolute: string };

/**
 * Reads and validates the configuration from environment variables.
 *
 * @example
 * const config = loadConfig(process.env);
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: { env: string; message: string }[] = [];
  for (const [key, spec] of Object.entries(ENV)) {
    const raw = env[spec.env];
    const result = spec.schema.safeParse(raw === '' ? undefined : raw);
    if (result.success) out[key] = result.data;
    else problems.push({ env: spec.env, message: result.error.issues.map((i) => i.message).join('; ') });
  }
  if (problems.length > 0) {
    throw new TarmacError(
      'config_invalid',
      `invalid environment: ${problems.map((p) => `${p.env}: ${p.message}`).join('; ')}`,
      { issues: problems },
    );
  }
  const config = out as Omit<Config, 'dataDirAbsolute'>;
  return { ...config, dataDirAbsolute: path.resolve(config.dataDir) };
}
