// Shared set-up of the benchmarks: Tarmac's services over a fresh database (in-memory PGlite, or
// PostgreSQL when BENCH_DATABASE_URL is set), installed with an admin, plus the SciFact data set.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import type { Principal } from '../src/access/index.js';
import { AuditLog, generateSigningKey } from '../src/audit/index.js';
import { migrate, openDatabase, type Database } from '../src/db/index.js';
import { IdentityService } from '../src/identity/index.js';
import { RetrievalService } from '../src/retrieval/index.js';
import { SourceService } from '../src/sources/index.js';

export const SCIFACT = new URL(`file://${process.env.SCIFACT_DIR ?? `${process.cwd()}/../shared/datasets/scifact`}/`);

export interface BenchServices {
  db: Database;
  identity: IdentityService;
  sources: SourceService;
  retrieval: RetrievalService;
  admin: Principal;
  close(): Promise<void>;
}

export async function openBenchServices(options: { postgresUrl?: string | undefined } = {}): Promise<BenchServices> {
  let db: Database;
  let drop = async () => undefined;
  if (options.postgresUrl) {
    const name = `tarmac_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: options.postgresUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const u = new URL(options.postgresUrl);
    u.pathname = `/${name}`;
    db = await openDatabase({ url: u.toString(), poolSize: 4 });
    drop = async () => {
      const c = new pg.Client({ connectionString: options.postgresUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  } else {
    db = await openDatabase({});
  }
  await migrate(db);
  const key = generateSigningKey();
  const audit = new AuditLog(db, { checkpointEvery: 1_000_000, signingKey: key, trustedPublicKey: key.publicKeyPem });
  const identity = new IdentityService(db, audit);
  let token = '';
  await identity.bootstrap({ adminEmail: 'admin@tarmac.local', auditPublicKey: key.publicKeyPem, persistKey: (t) => (token = t) });
  const adminPrincipal = await identity.authenticate(token);
  const sources = new SourceService(db, audit, { maxDocumentBytes: 50 * 1024 * 1024 });
  return {
    db,
    identity,
    sources,
    retrieval: new RetrievalService(db, sources),
    admin: adminPrincipal,
    close: async () => {
      await db.close();
      await drop();
    },
  };
}

export interface ScifactDoc {
  _id: string;
  title: string;
  text: string;
}

export function scifactCorpus(): ScifactDoc[] {
  return readFileSync(new URL('corpus.jsonl', SCIFACT), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ScifactDoc);
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
