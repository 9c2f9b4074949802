// The stop button across processes on one PostgreSQL: another process that has already read (and cached) the
// use case for runs hears the pause as it commits and refuses the next run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, generateSigningKey } from '../audit/index.js';
import { openDatabase, type Database } from '../db/index.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { UseCaseService } from './index.js';

let s: TestServices;
let otherDb: Database;
let other: UseCaseService;

beforeAll(async () => {
  s = await openTestServices();
  otherDb = await openDatabase({ url: s.url, poolSize: 2 });
  const key = generateSigningKey();
  other = new UseCaseService(otherDb, new AuditLog(otherDb, { checkpointEvery: 1000, signingKey: key, trustedPublicKey: key.publicKeyPem }));
  const admin = { principal: s.admin };
  await s.identity.createTeam(admin, { name: 'underwriting' });
  await s.identity.createUser(admin, { email: 'olivia@x.io' });
  await s.identity.setMember(admin, 'underwriting', 'olivia@x.io', 'owner');
  await s.usecases.declare(admin, { name: 'uw', team: 'underwriting', owner: 'olivia@x.io', riskTier: 'low', prompt: 'p', route: 'local/extractive' });
});
afterAll(async () => {
  await otherDb?.close();
  await s?.close();
});

describe('the stop button across processes (postgres)', () => {
  it('a pause committed by one process stops the next run in another that had the use case cached', async () => {
    const endUser = { userId: 'u-any', teamIds: [], admin: true };
    await other.authorizeRun(await other.forRun('uw'), endUser);
    expect((await other.forRun('uw')).stage).toBe('pilot');
    await s.usecases.pause({ principal: s.admin }, 'uw', 'stop');
    let refused: unknown = null;
    for (let i = 0; i < 200 && refused === null; i++) {
      await other.authorizeRun(await other.forRun('uw'), endUser).catch((err: unknown) => (refused = err));
      if (refused === null) await new Promise((r) => setTimeout(r, 10));
    }
    expect(refused).toMatchObject({ code: 'use_case_paused' });
  });
});
