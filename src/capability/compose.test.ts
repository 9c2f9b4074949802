import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import type { Database } from '../db/index.js';
import { composeCapabilities, defineCapability, type Shared } from './index.js';

const shared: Shared = { config: loadConfig({}), db: {} as Database, logger: pino({ level: 'silent' }), localDir: null, serving: false };

const clock = defineCapability({ name: 'clock', needs: [], workspace: ['clocks'], build: (_deps, options?: { at: number }) => ({ now: () => options?.at ?? 0 }) });
const greeter = defineCapability({
  name: 'greeter',
  needs: [clock],
  build: ({ clock, sections }) => ({ greet: (who: string) => `hello ${who} at ${clock.now()} (${sections.join(', ')})` }),
});

describe('composing capabilities', () => {
  it('builds each from the services it needs, typed by name, with its options', async () => {
    const { services, registry } = await composeCapabilities([clock, greeter], shared, { clock: { at: 7 } });
    expect(services.greeter.greet('ada')).toBe('hello ada at 7 (clocks)');
    expect(registry.names).toEqual(['clock', 'greeter']);
    expect(registry.sections).toEqual(['clocks']);
  });

  it('refuses a list where a capability comes before what it needs, naming both', async () => {
    await expect(composeCapabilities([greeter, clock], shared, {})).rejects.toThrow('capability greeter needs clock, which is not listed before it: put clock earlier in the list');
    await expect(composeCapabilities([greeter], shared, {})).rejects.toThrow('capability greeter needs clock');
  });

  it('refuses a capability listed twice and a tarmac.yaml section declared twice', async () => {
    await expect(composeCapabilities([clock, clock], shared, {})).rejects.toThrow('capability clock is listed twice');
    const other = defineCapability({ name: 'other', needs: [], workspace: ['clocks'], build: () => null });
    await expect(composeCapabilities([clock, other], shared, {})).rejects.toThrow('tarmac.yaml section clocks is declared by both clock and other');
  });

  it('closes last built first, runs every close hook, and reports the first failure', async () => {
    const closed: string[] = [];
    const first = defineCapability({ name: 'first', needs: [], build: () => 'a', close: async () => void closed.push('first') });
    const second = defineCapability({
      name: 'second',
      needs: [first],
      build: () => 'b',
      close: async () => {
        closed.push('second');
        throw new Error('second failed');
      },
    });
    const { registry } = await composeCapabilities([first, second], shared, {});
    await expect(registry.close()).rejects.toThrow('second failed');
    expect(closed).toEqual(['second', 'first']);
  });

  it('closes what was built when a later build fails', async () => {
    const closed: string[] = [];
    const first = defineCapability({ name: 'first', needs: [], build: () => 'a', close: async () => void closed.push('first') });
    const broken = defineCapability({
      name: 'broken',
      needs: [],
      build: () => {
        throw new Error('cannot build');
      },
    });
    await expect(composeCapabilities([first, broken], shared, {})).rejects.toThrow('cannot build');
    expect(closed).toEqual(['first']);
  });

  it('authenticates through the one capability that does, and collects routes, jobs and start hooks in order', async () => {
    const seen: string[] = [];
    const keys = defineCapability({
      name: 'keys',
      needs: [],
      build: () => ({ principal: 'p' }),
      authenticate: async (_keys, token) => {
        seen.push(`auth ${token}`);
        throw new Error('unknown key');
      },
      routes: () => void seen.push('routes keys'),
      start: () => void seen.push('start keys'),
    });
    const ticks = defineCapability({
      name: 'ticks',
      needs: [keys],
      build: () => 0,
      routes: () => void seen.push('routes ticks'),
      jobs: () => [{ queue: 'review-escalation', work: async () => undefined, schedule: { cron: '* * * * *', payload: { reason: 'schedule' } } }],
    });
    const { registry } = await composeCapabilities([keys, ticks], shared, {});
    await expect(registry.authenticate('tmk_x')).rejects.toThrow('unknown key');
    registry.routes({} as never, { db: shared.db, bodyLimit: 1, maxDocumentBytes: 1 });
    const runner = {} as never;
    expect(registry.jobs(runner).map((j) => j.queue)).toEqual(['review-escalation']);
    await registry.start(runner);
    expect(seen).toEqual(['auth tmk_x', 'routes keys', 'routes ticks', 'start keys']);
    const { registry: none } = await composeCapabilities([clock], shared, {});
    await expect(none.authenticate('tmk_x')).rejects.toThrow('no capability authenticates bearer tokens');
  });
});
