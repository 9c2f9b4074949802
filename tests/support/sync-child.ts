// Child process for the crash test: opens Tarmac's services on DATA (an embedded database folder, or a
// postgres:// URL), declares a filesystem source over FOLDER once, and syncs it, printing one line
// "progress N" after every written batch. The parent kills it with SIGKILL in the middle.
//   node --import tsx tests/support/sync-child.ts DATA FOLDER
import { systemActor } from '../../src/access/index.js';
import { AuditLog } from '../../src/audit/index.js';
import { migrate, openDatabase } from '../../src/db/index.js';
import { IdentityService } from '../../src/identity/index.js';
import { SourceService } from '../../src/sources/index.js';

async function main(): Promise<void> {
  const [data, folder] = process.argv.slice(2);
  if (!data || !folder) throw new Error('usage: sync-child.ts DATA FOLDER');
  const db = await openDatabase(data.startsWith('postgres') ? { url: data, poolSize: 2 } : { dataDir: data, command: 'sync-child' });
  try {
    await migrate(db);
    const audit = new AuditLog(db, { checkpointEvery: 1_000_000, signingKey: null });
    const identity = new IdentityService(db, audit);
    await identity.bootstrap({ adminEmail: 'admin@tarmac.local', auditPublicKey: null, persistKey: () => undefined });
    const sources = new SourceService(db, audit, { maxDocumentBytes: 1024 * 1024 });
    const ctx = { actor: systemActor('crash-test') };
    if (!(await sources.byRef('files'))) {
      await audit.transaction(ctx, async (tx) => {
        await tx.query("insert into teams (id, name) values ('team_crash', 'crash') on conflict do nothing");
      });
      const admin = await db.query<{ id: string }>("select id from users where email = 'admin@tarmac.local'");
      await audit.transaction(ctx, async (tx) => {
        await tx.query("insert into team_members (team_id, user_id, role) values ('team_crash', $1, 'owner') on conflict do nothing", [admin.rows[0]!.id]);
      });
      const { declareSource, SourceSpec } = await import('../../src/sources/index.js');
      await audit.transaction(ctx, (tx, record) =>
        declareSource(tx, record, SourceSpec.parse({ name: 'files', team: 'crash', connector: { type: 'filesystem', path: folder }, acl: { default: ['*'] }, chunking: { maxTokens: 40, overlapTokens: 10 } })),
      );
    }
    const row = (await sources.byRef('files'))!;
    const result = await sources.syncAs(ctx, row, {
      batchSize: 50,
      onProgress: (c) => process.stdout.write(`progress ${c.seen}\n`),
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await db.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
