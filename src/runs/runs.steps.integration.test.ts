// The governed run as steps: its record is what it always was (golden), evaluation runs the same steps without
// recording, and the model step answers tool calls in a loop bounded by a step limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor } from '../access/index.js';
import { BACKEND } from '../../tests/support/db.js';
import { declareRunFixture, ROOF_GUIDE, stubGatewayYaml, underwritingTeam } from '../../tests/support/runs.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { startStubOpenAi, type StubOpenAi } from '../../tests/support/stub-openai.js';
import { RunService, type RunRecord, type ToolCall } from './index.js';

const QUESTION = 'What is the maximum roof age for a standard homeowners policy?';

/** A record with what changes from run to run (ids, times, durations) replaced by its kind. */
function stable(record: RunRecord): unknown {
  return JSON.parse(
    JSON.stringify(record, (key, value: unknown) => {
      if (typeof value === 'string' && /^(run|usr|team)_[a-z0-9]+$/.test(value)) return `<${value.split('_')[0]}>`;
      if (typeof value === 'string' && ['keyId', 'userId', 'teamId'].includes(key)) return '<id>';
      if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value)) return '<time>';
      if (typeof value === 'number' && ['ms', 'latencyMs', 'chunkId', 'score'].includes(key) && !Number.isInteger(value)) return '<n>';
      if (typeof value === 'number' && ['ms', 'latencyMs', 'chunkId'].includes(key)) return '<n>';
      return value;
    }),
  );
}

describe(`the governed run as steps (${BACKEND})`, () => {
  let s: TestServices;
  let stub: StubOpenAi;
  beforeAll(async () => {
    stub = await startStubOpenAi();
    s = await openTestServices();
    await s.workspace.applyAs({ actor: systemActor('test') }, stubGatewayYaml(stub.url, '    - { name: tooling, targets: [{ provider: stub, model: tools }] }\n'), 'gateway.yaml', { dryRun: false });
    await underwritingTeam(s);
    await declareRunFixture(s, { docs: [{ id: 'guide.md', text: ROOF_GUIDE }], useCase: { name: 'uw', posture: { deliverThreshold: 0.6, reviewSampleRate: 0 } } });
    await s.usecases.declare({ principal: s.admin }, { name: 'uw-tools', team: 'underwriting', owner: 'owner@x.io', riskTier: 'medium', prompt: 'uw-answer', route: 'tooling', posture: { deliverThreshold: 0, relevanceThreshold: 0 } });
  });
  afterAll(async () => {
    await s?.close();
    await stub?.close();
  });

  it('records a run as it always has (golden record)', async () => {
    const analyst = await s.identity.authenticate((await s.identity.createKey({ principal: s.admin }, { name: 'golden', user: 'analyst@x.io' })).token);
    const run = await s.runs.run({ principal: analyst, requestId: 'req-golden' }, 'uw', { input: QUESTION });
    expect(stable(await s.runs.get({ principal: s.admin }, run.runId))).toMatchInlineSnapshot(`
      {
        "answer": "Extractive answer (quoted from the provided messages, not generated): "A standard homeowners policy may be written for roofs up to 20 years old." [1]",
        "citations": [
          {
            "chunkId": "<n>",
            "documentId": "guide.md",
            "kind": "chunk",
            "quote": "A standard homeowners policy may be written for roofs up to 20 years old.",
            "ref": 1,
            "source": "kb",
            "title": "Homeowners underwriting",
          },
        ],
        "costUsd": 0,
        "createdAt": "<time>",
        "decision": "delivered",
        "error": null,
        "feedback": [],
        "gatewayRunId": "<run>",
        "groundedness": {
          "decidedBy": "offline",
          "judge": null,
          "offlineScore": 1,
          "score": 1,
          "threshold": 0.6,
          "unsupported": [],
        },
        "input": "What is the maximum roof age for a standard homeowners policy?",
        "keyId": "<id>",
        "latencyMs": "<n>",
        "manifest": {
          "as": "user:analyst@x.io",
          "assembledAt": "<time>",
          "chunks": [
            {
              "chunkId": "<n>",
              "classification": "internal",
              "documentId": "guide.md",
              "end": 202,
              "freshness": {
                "indexedAt": "<time>",
                "stale": false,
              },
              "ref": 1,
              "score": "<n>",
              "sectionPath": [
                "Homeowners underwriting",
                "Roof age",
              ],
              "source": "kb",
              "start": 0,
              "title": "Homeowners underwriting",
              "tokens": 59,
              "version": 1,
            },
          ],
          "flagged": false,
          "lookups": [],
          "query": "What is the maximum roof age for a standard homeowners policy?",
          "rules": [],
          "tokenBudget": 2000,
          "tokensUsed": 59,
          "warnings": [],
        },
        "model": "extractive",
        "outcome": null,
        "prompt": "uw-answer",
        "promptVersion": 1,
        "reasons": [],
        "relevance": {
          "contextScore": 0.727,
          "missing": [
            "maximum",
          ],
          "score": "<n>",
          "threshold": 0.5,
        },
        "review": null,
        "route": "local/extractive",
        "runId": "<run>",
        "spans": [
          {
            "ms": "<n>",
            "name": "authorize",
          },
          {
            "ms": "<n>",
            "name": "context",
          },
          {
            "ms": "<n>",
            "name": "prompt",
          },
          {
            "ms": "<n>",
            "name": "model",
          },
          {
            "ms": "<n>",
            "name": "guard",
          },
          {
            "ms": "<n>",
            "name": "decide",
          },
          {
            "ms": "<n>",
            "name": "total",
          },
        ],
        "status": "completed",
        "teamId": "<team>",
        "tokens": {
          "input": 90,
          "output": 33,
        },
        "useCase": "uw",
        "userId": "<usr>",
        "variables": {},
      }
    `);
  });

  it('evaluates with the same steps and records nothing', async () => {
    const count = async () => Number((await s.db.query<{ n: number }>('select count(*)::int as n from runs')).rows[0]!.n);
    const before = await count();
    const evaluated = await s.runs.evaluate({ principal: s.admin }, 'uw', { input: QUESTION });
    const ran = await s.runs.run({ principal: s.admin }, 'uw', { input: QUESTION });
    expect(await count()).toBe(before + 1);
    // Same decision, answer, citations and scores as the recorded run, under an id that names no record.
    const { runId: evaluatedId, latencyMs: _a, ...result } = evaluated;
    const { runId: _id, latencyMs: _b, ...recorded } = ran;
    expect(result).toEqual(recorded);
    await expect(s.runs.get({ principal: s.admin }, evaluatedId)).rejects.toMatchObject({ code: 'not_found' });
    // A held evaluation opens no review task.
    const tasks = (await s.review.list({ principal: s.admin }, { status: 'open', limit: 200 })).length;
    const held = await s.runs.evaluate({ principal: s.admin }, 'uw', { input: 'What deductible applies to earthquake damage in coastal counties?' });
    expect(held.decision).toBe('held_for_review');
    expect((await s.review.list({ principal: s.admin }, { status: 'open', limit: 200 })).length).toBe(tasks);
  });

  it('answers tool calls in a loop, at most five model calls', async () => {
    const seen: ToolCall[][] = [];
    const runs = new RunService(s.db, {
      audit: s.audit,
      review: s.review,
      usecases: s.usecases,
      prompts: s.prompts,
      retrieval: s.retrieval,
      gateway: s.gateway,
      tools: {
        execute: async (_state, calls) => {
          seen.push(calls);
          return calls.map((c) => ({ role: 'tool' as const, tool_call_id: c.id, content: '{"temperature": 21}' }));
        },
      },
    });
    const requests = stub.requests.length;
    const run = await runs.run({ principal: s.admin }, 'uw-tools', { input: 'What is the weather in Paris?' });
    expect(run.status).toBe('completed');
    const sent = stub.requests.slice(requests);
    expect(sent).toHaveLength(5);
    expect(seen).toHaveLength(4);
    expect(seen[0]![0]).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    // Each call carries the conversation so far: the tool call and its answer, step by step.
    expect(sent.map((r) => r.body.messages!.length)).toEqual([2, 4, 6, 8, 10]);
    expect(sent[1]!.body.messages!.slice(2)).toMatchObject([{ role: 'assistant', tool_calls: [{ id: 'call_1' }] }, { role: 'tool', content: '{"temperature": 21}' }]);
    // Without an executor, the run ends at the first reply.
    const plain = stub.requests.length;
    await s.runs.run({ principal: s.admin }, 'uw-tools', { input: 'What is the weather in Paris?' });
    expect(stub.requests.length - plain).toBe(1);
  });
});
