import cronParser from 'cron-parser';
import type { SourceRow } from './sources.repository.js';

/** Whether `cron` is a valid five-field cron expression. */
export function isValidCron(cron: string): boolean {
  try {
    cronParser.parseExpression(cron, { utc: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * Sources whose schedule fired since their last sync: the scheduler queues one sync for each.
 *
 * @example
 * dueSources(await sources.all(), new Date()) // [row of "handbook"] when "0 * * * *" passed its hour
 */
export function dueSources(rows: Pick<SourceRow, 'name' | 'schedule' | 'last_sync_at' | 'created_at' | 'connector'>[], now: Date): string[] {
  const due: string[] = [];
  for (const row of rows) {
    if (!row.schedule || row.connector === 'push') continue;
    let previous: Date;
    try {
      previous = cronParser.parseExpression(row.schedule, { currentDate: now, utc: true }).prev().toDate();
    } catch {
      continue;
    }
    const since = row.last_sync_at ?? row.created_at;
    if (since < previous) due.push(row.name);
  }
  return due;
}
