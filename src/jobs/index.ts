/**
 * Background jobs on pg-boss: typed queue names and payload schemas, workers and schedules, on PostgreSQL
 * or in-process on the embedded database.
 *
 * @example
 * const jobs = await JobRunner.start({ db, url: config.databaseUrl });
 * await jobs.send('audit-checkpoint', { reason: 'manual' });
 */
export { JobRunner, type JobsOptions } from './jobs.service.js';
export { QUEUES, type QueueName, type QueuePayload } from './queues.js';
