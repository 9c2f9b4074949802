// A server starting on PostgreSQL and serving a few requests prints no warning (pg deprecations among them).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliEnv, startServe, tempDataDir } from '../../tests/support/cli.js';
import { createPostgresDatabase } from '../../tests/support/db.js';

describe('a server on PostgreSQL', () => {
  it('starts and serves without process warnings', async () => {
    const { url, drop } = await createPostgresDatabase();
    try {
      const dir = tempDataDir();
      const server = await startServe(cliEnv(dir, { TARMAC_DATABASE_URL: url, TARMAC_SEED_DEMO: 'false' }));
      try {
        const token = readFileSync(path.join(dir, 'admin-key'), 'utf8').trim();
        const answers = await Promise.all(
          ['/api/v1/me', '/api/v1/teams', '/api/v1/keys', '/api/v1/audit/verify', '/api/v1/spend'].map((route) =>
            fetch(`${server.url}${route}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status),
          ),
        );
        expect(answers).toEqual([200, 200, 200, 200, 200]);
      } finally {
        server.child.kill('SIGTERM');
        await server.done;
      }
      expect(server.output()).not.toMatch(/Warning|already executing a query/);
    } finally {
      await drop();
    }
  });
});
