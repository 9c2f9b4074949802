import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { routeAuth } from '../access/index.js';
import { compileResponseSerializer, requireResponseSchemas } from './responses.js';

const Task = z.object({
  id: z.string(),
  note: z.string().nullable(),
  owner: z.object({ email: z.string() }).nullable(),
  kind: z.enum(['hold', 'sample']).default('hold'),
  details: z.unknown(),
  labels: z.record(z.string(), z.number()),
  at: z.string().optional(),
});
const task = { id: 't1', note: null, owner: { email: 'a@example.com' }, kind: 'sample', details: { any: ['thing'] }, labels: { production: 2 } };

describe('response serializers compiled from zod schemas', () => {
  it('writes what JSON.stringify writes for a body its schema describes', () => {
    const write = compileResponseSerializer(Task, 'GET /t 200', true);
    expect(JSON.parse(write(task))).toEqual(task);
    expect(JSON.parse(write({ ...task, owner: null, note: 'n', at: '2026-01-01T00:00:00.000Z' }))).toEqual({ ...task, owner: null, note: 'n', at: '2026-01-01T00:00:00.000Z' });
  });

  it('fails a body with a field its schema lacks when checking, and drops the field when not', () => {
    const extra = { ...task, owner: { email: 'a@example.com', password: 'x' } };
    expect(() => compileResponseSerializer(Task, 'GET /t 200', true)(extra)).toThrow(/GET \/t 200 does not match its schema: owner\.password is not in the schema/);
    expect(JSON.parse(compileResponseSerializer(Task, 'GET /t 200', false)(extra))).toEqual(task);
  });

  it('fails a value of another type when checking, and a missing field always (never a default in its place)', () => {
    expect(() => compileResponseSerializer(Task, 'GET /t 200', true)({ ...task, id: 42 })).toThrow(/id is 42 but serialises as "42"/);
    const { kind: _kind, ...withoutKind } = task;
    expect(() => compileResponseSerializer(Task, 'GET /t 200', false)(withoutKind)).toThrow(/kind/);
  });

  it('leaves out an unknown field that holds undefined, as JSON.stringify does', () => {
    const write = compileResponseSerializer(Task, 'GET /t 200', true);
    expect(JSON.parse(write({ ...task, details: undefined }))).toEqual({ ...task, details: undefined });
  });

  it('keeps fields named like JSON Schema keywords', () => {
    const Named = z.object({ description: z.string(), default: z.boolean(), properties: z.array(z.string()) });
    const body = { description: 'd', default: true, properties: ['p'] };
    expect(JSON.parse(compileResponseSerializer(Named, 'GET /n 200', true)(body))).toEqual(body);
  });
});

describe('response declarations', () => {
  const base = { method: 'GET' as const, url: '/api/v1/things', config: routeAuth({ scope: 'read' }) };

  it('refuses a route without a response schema unless it says why', () => {
    expect(() => requireResponseSchemas({ ...base, schema: { summary: 'Things.' } })).toThrow(/GET \/api\/v1\/things declares no response schema/);
    expect(() => requireResponseSchemas({ ...base, config: routeAuth({ scope: 'read' }, { undeclaredResponse: 'an SSE stream' }), schema: {} })).not.toThrow();
    expect(() => requireResponseSchemas({ ...base, schema: { response: { 200: z.object({ things: z.array(z.string()) }) } } })).not.toThrow();
  });

  it('refuses a response schema that is not zod', () => {
    expect(() => requireResponseSchemas({ ...base, schema: { response: { 200: { type: 'object' } } } })).toThrow(/not a zod schema/);
  });
});
