import { describe, expect, it } from 'vitest';
import { dueSources, isValidCron } from './schedule.js';
import { durationSeconds, SourceSpec } from './sources.schema.js';

describe('scheduled syncs', () => {
  const base = { connector: 'filesystem' as const, created_at: new Date('2026-01-01T00:00:00Z') };
  it('names the sources whose schedule fired since their last sync', () => {
    const now = new Date('2026-01-02T10:30:00Z');
    const due = dueSources(
      [
        { ...base, name: 'hourly-late', schedule: '0 * * * *', last_sync_at: new Date('2026-01-02T09:59:00Z') },
        { ...base, name: 'hourly-fresh', schedule: '0 * * * *', last_sync_at: new Date('2026-01-02T10:01:00Z') },
        { ...base, name: 'never-synced', schedule: '0 0 * * *', last_sync_at: null },
        { ...base, name: 'unscheduled', schedule: null, last_sync_at: null },
        { ...base, name: 'pushed', connector: 'push', schedule: '* * * * *', last_sync_at: null },
      ],
      now,
    );
    expect(due).toEqual(['hourly-late', 'never-synced']);
  });

  it('validates cron expressions and durations in source declarations', () => {
    expect(isValidCron('*/5 * * * *')).toBe(true);
    expect(isValidCron('every hour')).toBe(false);
    expect(durationSeconds('24h')).toBe(86_400);
    expect(durationSeconds(90)).toBe(90);
    const bad = SourceSpec.safeParse({ name: 'x', team: 't', connector: { type: 'push' }, schedule: 'hourly', freshness: '3 weeks' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['freshness', 'schedule']);
  });
});
