import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { ERROR_CODES } from '../errors/index.js';
import { declareRunFixture, ROOF_GUIDE, underwritingTeam } from '../../tests/support/runs.js';
import { bearer, openTestServer, type TestServer } from '../../tests/support/server.js';

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minItems?: number;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minimum?: number;
  default?: unknown;
}

interface Operation {
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}

/** A value of the schema's shape with `text` in every string, so it reaches the handler where the old code stored it. */
function sample(schema: JsonSchema | undefined, text: string, depth = 0): unknown {
  if (!schema || depth > 8) return text;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  const alt = schema.anyOf ?? schema.oneOf ?? schema.allOf;
  if (alt?.[0]) return sample(alt[0], text, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (type === 'object' || schema.properties) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema.properties ?? {})) out[k] = sample(v, text, depth + 1);
    return out;
  }
  if (type === 'array') return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => sample(schema.items, text, depth + 1));
  if (type === 'integer' || type === 'number') return schema.minimum ?? 1;
  if (type === 'boolean') return false;
  return text;
}

const STABLE = new Set<string>(ERROR_CODES);
const DEEP = `{"metadata":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
const BOMB = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...Array.from({ length: 8 }, (_, i) => {
    const name = String.fromCharCode(98 + i);
    const prev = String.fromCharCode(97 + i);
    return `${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`;
  }),
].join('\n');

describe(`What text Tarmac accepts (${BACKEND})`, () => {
  let s: TestServer;
  let routes: { method: string; path: string; op: Operation }[];
  beforeAll(async () => {
    s = await openTestServer();
    const spec = (await s.app.inject({ url: '/openapi.json', headers: bearer(s.adminToken) })).json<{ paths: Record<string, Record<string, Operation>> }>();
    routes = Object.entries(spec.paths).flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => ({ method: m.toUpperCase(), path, op })));
  });
  afterAll(async () => {
    await s.close();
  });

  const send = (method: string, url: string, payload?: string) =>
    s.app.inject({ method: method as 'POST', url, headers: { ...bearer(s.adminToken), ...(payload === undefined ? {} : { 'content-type': 'application/json' }) }, payload });

  /** Sends every request; collects those answered with a 5xx, without the error shape, or with an unexpected code. */
  async function walk(requests: { label: string; method: string; url: string; payload?: string; code?: string; issue?: RegExp }[]): Promise<string[]> {
    const problems: string[] = [];
    for (const r of requests) {
      const res = await send(r.method, r.url, r.payload);
      const body = res.headers['content-type']?.toString().includes('json') ? res.json<{ error?: { code?: unknown; message?: unknown; details?: { issues?: { message: string }[] } } }>() : undefined;
      const code = body?.error?.code;
      if (res.statusCode >= 500) problems.push(`${r.label} → ${res.statusCode} ${String(code)}`);
      else if (!r.code && res.statusCode < 400) continue;
      else if (typeof code !== 'string' || typeof body?.error?.message !== 'string') problems.push(`${r.label} → ${res.statusCode} without the error shape`);
      else if (r.code ? code !== r.code : !STABLE.has(code)) problems.push(`${r.label} → ${res.statusCode} ${code}, expected ${r.code ?? 'a stable code'}`);
      else if (r.issue && !body.error.details?.issues?.some((i) => r.issue?.test(i.message))) problems.push(`${r.label} → ${code} without an issue matching ${r.issue}`);
    }
    return problems;
  }

  it('refuses NUL, lone surrogates, prototype keys and deep nesting on every route, never with a 5xx', async () => {
    expect(routes.length).toBeGreaterThan(40);
    const requests: Parameters<typeof walk>[0] = [];
    for (const { method, path, op } of routes) {
      const label = `${method} ${path}`;
      const hasParams = /\{[^}]+\}/.test(path);
      const plain = path.replace(/\{[^}]+\}/g, 'x');
      const withBody = method !== 'GET' && method !== 'HEAD' && method !== 'DELETE';
      const json = op.requestBody?.content['application/json']?.schema;
      const body = withBody ? JSON.stringify(sample(json, 'ok')) : undefined;
      if (hasParams) {
        requests.push({ label: `${label} NUL param`, method, url: path.replace(/\{[^}]+\}/g, 'a%00b'), payload: body, code: 'validation_failed', issue: /NUL/ });
        requests.push({ label: `${label} surrogate param`, method, url: path.replace(/\{[^}]+\}/g, '%ED%A0%80'), payload: body, code: 'bad_request' });
      }
      const queries = [...(op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name), 'x'];
      // not UTF-8: the query string keeps it as written, as text like any other
      for (const q of queries) requests.push({ label: `${label} ?${q}=%ED%A0%80`, method, url: `${plain}?${q}=%ED%A0%80`, payload: body });
      for (const q of queries) requests.push({ label: `${label} ?${q}=%00`, method, url: `${plain}?${q}=a%00b`, payload: body, code: 'validation_failed', issue: /NUL/ });
      if (!withBody) continue;
      // a body without a free-text field (only enums) carries no NUL to refuse: then only "no 5xx" holds
      const nul = JSON.stringify(sample(json, 'a\u0000b'));
      const surrogate = JSON.stringify(sample(json, 'a\ud800b'));
      requests.push(
        { label: `${label} NUL strings`, method, url: plain, payload: nul, ...(nul.includes('\\u0000') ? { code: 'validation_failed', issue: /NUL/ } : {}) },
        { label: `${label} surrogate strings`, method, url: plain, payload: surrogate, ...(surrogate.includes('\\ud800') ? { code: 'validation_failed', issue: /surrogate/ } : {}) },
        { label: `${label} NUL key`, method, url: plain, payload: '{"metadata":{"a\\u0000":1}}', code: 'validation_failed', issue: /NUL/ },
        { label: `${label} deep`, method, url: plain, payload: DEEP, code: 'validation_failed', issue: /deep/ },
        { label: `${label} constructor.prototype`, method, url: plain, payload: '{"constructor":{"prototype":{}}}', code: 'invalid_json' },
        { label: `${label} constructor`, method, url: plain, payload: '{"constructor":{"a":1}}', code: 'invalid_json' },
        { label: `${label} prototype`, method, url: plain, payload: '{"x":{"prototype":1}}', code: 'invalid_json' },
        { label: `${label} __proto__`, method, url: plain, payload: '{"__proto__":{}}', code: 'invalid_json' },
      );
    }
    expect(await walk(requests)).toEqual([]);
  }, 120_000);

  it('names the field that holds the NUL or the surrogate, on /v1 as on /api/v1', async () => {
    const chat = await send('POST', '/v1/chat/completions', JSON.stringify({ model: 'local/extractive', messages: [{ role: 'user', content: 'a\u0000b' }] }));
    expect(chat.statusCode).toBe(400);
    expect(chat.json()).toMatchObject({ error: { code: 'validation_failed', type: 'invalid_request_error', details: { issues: [{ path: 'messages[0].content' }] } } });
    const proto = await send('POST', '/v1/chat/completions', JSON.stringify({ model: 'local/extractive', messages: [{ role: 'user', content: 'hi' }], constructor: { a: 1 } }));
    expect(proto.statusCode).toBe(400);
    expect(proto.json().error.code).toBe('invalid_json');
    const team = await send('POST', '/api/v1/teams', JSON.stringify({ name: 'nul-team', description: 'x\ud800' }));
    expect(team.statusCode).toBe(400);
    expect(team.json().error).toMatchObject({ code: 'validation_failed', details: { issues: [{ path: 'description' }] } });
    // a well-formed pair is text like any other
    const emoji = await send('POST', '/api/v1/teams', JSON.stringify({ name: 'emoji-team', description: 'ok \ud83d\ude00' }));
    expect(emoji.statusCode).toBe(201);
    expect(emoji.json().description).toBe('ok 😀');
  });

  it('refuses the same text where it would reach the database: run input, pushed documents, search filters, prompt content', async () => {
    await underwritingTeam(s);
    await declareRunFixture(s, { docs: [{ id: 'guide.md', text: ROOF_GUIDE }], useCase: { name: 'edge-uc', posture: {} } });
    const deepMetadata = JSON.parse(`{"a":${'['.repeat(100)}${']'.repeat(100)}}`) as unknown;
    const cases: [string, string, unknown, unknown][] = [
      ['POST', '/api/v1/usecases/edge-uc/runs', { input: 'roof\u0000age' }, 'input'],
      ['POST', '/api/v1/usecases/edge-uc/runs', { input: 'roof \ud800' }, 'input'],
      ['POST', '/api/v1/sources/kb/documents', { documents: [{ id: 'a\u0000b', text: 'x' }] }, 'documents[0].id'],
      ['POST', '/api/v1/sources/kb/documents', { documents: [{ id: 'a\udc00', text: 'x' }] }, 'documents[0].id'],
      ['POST', '/api/v1/sources/kb/documents', { documents: [{ id: 't.md', title: 'x\ud800', text: 'x' }] }, 'documents[0].title'],
      ['POST', '/api/v1/sources/kb/documents', { documents: [{ id: 't.md', text: 'x\u0000' }] }, 'documents[0].text'],
      ['POST', '/api/v1/sources/kb/documents', { documents: [{ id: 'm.md', text: 'x', metadata: { 'k\u0000': 1 } }] }, 'documents[0].metadata.k\u0000'],
      ['POST', '/api/v1/sources/kb/documents', { documents: [{ id: 'm.md', text: 'x', metadata: deepMetadata }] }, expect.stringMatching(/^documents\[0\]\.metadata\.a(\[0\])+$/)],
      ['POST', '/api/v1/search', { query: 'roof', metadata: { 'k\u0000': 'v' } }, 'metadata.k\u0000'],
      ['POST', '/api/v1/search', { query: 'roof', metadata: deepMetadata }, expect.stringMatching(/^metadata\.a(\[0\])+$/)],
      ['POST', '/api/v1/prompts/uw-answer/versions', { messages: [{ role: 'user', content: 'x\ud800' }] }, 'messages[0].content'],
      ['DELETE', '/api/v1/sources/kb/documents/a%00b', undefined, 'doc'],
      ['GET', '/api/v1/runs?useCase=edge%00uc', undefined, 'useCase'],
    ];
    for (const [method, url, body, path] of cases) {
      const res = await send(method, url, body === undefined ? undefined : JSON.stringify(body));
      expect(res.statusCode, `${method} ${url} ${JSON.stringify(body)}`).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'validation_failed', details: { issues: [{ path }] } });
    }
    // the refused documents were not stored
    const status = await send('GET', '/api/v1/sources/kb/status');
    expect(status.json()).toMatchObject({ counts: expect.objectContaining({ total: 1 }) });
  });

  it('refuses a YAML alias bomb as config_invalid, over HTTP and in the workspace service', async () => {
    const res = await send('POST', '/api/v1/apply', JSON.stringify({ yaml: BOMB, dryRun: true }));
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'config_invalid', details: { issues: [{ file: 'tarmac.yaml', line: 2, message: expect.stringMatching(/alias/) }] } });
    await expect(s.workspace.apply(s.admin, null, BOMB, 'tarmac.yaml', { dryRun: true })).rejects.toMatchObject({ code: 'config_invalid' });
  });

  it('applies the same text rules to the values of a tarmac.yaml', async () => {
    const nul = await send('POST', '/api/v1/apply', JSON.stringify({ yaml: 'version: 1\nteams:\n  - name: a\n    description: "x\\0y"\n', dryRun: true }));
    expect(nul.statusCode).toBe(400);
    expect(nul.json().error).toMatchObject({ code: 'config_invalid', details: { issues: [{ path: 'teams[0].description', line: 4, message: expect.stringMatching(/NUL/) }] } });
    const surrogate = await send('POST', '/api/v1/apply', JSON.stringify({ yaml: 'version: 1\nteams:\n  - name: a\n    description: "x\\ud800"\n', dryRun: true }));
    expect(surrogate.json().error).toMatchObject({ code: 'config_invalid', details: { issues: [{ path: 'teams[0].description', message: expect.stringMatching(/surrogate/) }] } });
    const proto = await send('POST', '/api/v1/apply', JSON.stringify({ yaml: 'version: 1\nteams:\n  - name: a\n    __proto__: {}\n', dryRun: true }));
    expect(proto.json().error).toMatchObject({ code: 'config_invalid', details: { issues: [{ path: 'teams[0].__proto__', line: 4 }] } });
    const deep = await send('POST', '/api/v1/apply', JSON.stringify({ yaml: `teams: ${'['.repeat(5000)}${']'.repeat(5000)}\n`, dryRun: true }));
    expect(deep.statusCode).toBe(400);
    expect(deep.json().error.code).toBe('config_invalid');
  });
});
