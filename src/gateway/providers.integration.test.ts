// Anthropic, Gemini and Bedrock behind the OpenAI format: the official openai client against Tarmac, Tarmac against
// stubs speaking each provider's wire format.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor } from '../access/index.js';
import { openTestServer, type TestServer } from '../../tests/support/server.js';
import { sigV4Problem } from '../../tests/support/sigv4.js';
import { startStubAnthropic, startStubBedrock, startStubGemini, type StubProvider } from '../../tests/support/stub-providers.js';

let server: TestServer;
let anthropic: StubProvider;
let gemini: StubProvider;
let bedrock: StubProvider;
let signedBedrock: StubProvider;
const AWS = { accessKeyId: 'AKIDTARMACTEST', secretAccessKey: 'test/secret+key', sessionToken: 'session-token-1', region: 'eu-central-1', service: 'bedrock' };
let client: OpenAI;

const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
];
const conversation: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Weather in Paris?' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
  { role: 'tool', tool_call_id: 'call_9', content: '{"celsius": 21}' },
  { role: 'user', content: 'And so?' },
];

beforeAll(async () => {
  anthropic = await startStubAnthropic();
  gemini = await startStubGemini();
  bedrock = await startStubBedrock();
  signedBedrock = await startStubBedrock({ sigv4: AWS });
  Object.assign(process.env, { TARMAC_TEST_AWS_KEY_ID: AWS.accessKeyId, TARMAC_TEST_AWS_SECRET: AWS.secretAccessKey, TARMAC_TEST_AWS_TOKEN: AWS.sessionToken, TARMAC_TEST_AWS_WRONG: 'not/the+secret' });
  server = await openTestServer();
  const yaml = `version: 1
gateway:
  providers:
    - { name: claude, type: anthropic, baseUrl: ${anthropic.url}, apiKeyEnv: PATH }
    - { name: google, type: gemini, baseUrl: ${gemini.url} }
    - { name: aws, type: bedrock, baseUrl: ${bedrock.url}, apiKeyEnv: PATH }
    - { name: aws-signed, type: bedrock, baseUrl: ${signedBedrock.url}, aws: { region: eu-central-1, accessKeyIdEnv: TARMAC_TEST_AWS_KEY_ID, secretAccessKeyEnv: TARMAC_TEST_AWS_SECRET, sessionTokenEnv: TARMAC_TEST_AWS_TOKEN } }
    - { name: aws-wrong, type: bedrock, baseUrl: ${signedBedrock.url}, aws: { region: eu-central-1, accessKeyIdEnv: TARMAC_TEST_AWS_KEY_ID, secretAccessKeyEnv: TARMAC_TEST_AWS_WRONG, sessionTokenEnv: TARMAC_TEST_AWS_TOKEN } }
    - { name: aws-unset, type: bedrock, baseUrl: ${signedBedrock.url}, aws: { region: eu-central-1, accessKeyIdEnv: TARMAC_TEST_AWS_KEY_ID, secretAccessKeyEnv: TARMAC_TEST_AWS_NOT_SET } }
  routes:
    - { name: aws-midstream, retries: 0, targets: [{ provider: aws, model: 'anthropic.claude-x:0-throttled' }] }
    - { name: resilient, retries: 0, targets: [{ provider: claude, model: overloaded }, { provider: google, model: overloaded }, { provider: google, model: ok }] }
  prices:
    - { model: ok, inputPerMillion: 1000000, outputPerMillion: 1000000 }
`;
  await server.workspace.applyAs({ actor: systemActor('test') }, yaml, 'gateway.yaml', { dryRun: false });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const address = server.app.server.address();
  client = new OpenAI({ baseURL: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1`, apiKey: server.adminToken, maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  await anthropic?.close();
  await gemini?.close();
  await bedrock?.close();
  await signedBedrock?.close();
});

describe('anthropic', () => {
  it('translates a conversation with tools both ways', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'claude/tools', messages: conversation, tools, tool_choice: 'required', max_tokens: 100 }).withResponse();
    const sent = anthropic.requests.at(-1)!;
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.headers['x-api-key']).toBe(process.env.PATH);
    expect(sent.body).toMatchObject({
      model: 'tools',
      max_tokens: 100,
      system: 'Be brief.',
      tool_choice: { type: 'any' },
      tools: [{ name: 'get_weather', description: 'Weather of a city', input_schema: { type: 'object' } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'call_9', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_9', content: '{"celsius": 21}' }, { type: 'text', text: 'And so?' }] },
      ],
    });
    const choice = data.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe('Checking.');
    expect(choice.message.tool_calls?.[0]).toEqual({ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    // 12 uncached + 4 cached input tokens.
    expect(data.usage).toMatchObject({ prompt_tokens: 16, completion_tokens: 6, prompt_tokens_details: { cached_tokens: 4 } });
    expect(response.headers.get('x-tarmac-cost-estimated')).toBeNull();
  });

  it('streams text and tool calls as OpenAI chunks with usage last', async () => {
    const stream = await client.chat.completions.create({ model: 'claude/tools', messages: conversation, tools, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let args = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      text += c?.delta.content ?? '';
      args += c?.delta.tool_calls?.[0]?.function?.arguments ?? '';
      finish = c?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Hello from Claude.');
    expect(JSON.parse(args)).toEqual({ city: 'Paris' });
    expect(finish).toBe('tool_calls');
    expect(usage).toMatchObject({ prompt_tokens: 16, completion_tokens: 6 });
  });
});

describe('gemini', () => {
  it('translates a conversation with tools both ways', async () => {
    const data = await client.chat.completions.create({ model: 'google/tools', messages: conversation, tools, temperature: 0.2 });
    const sent = gemini.requests.at(-1)!;
    expect(sent.path).toBe('/v1/models/tools:generateContent');
    expect(sent.body).toMatchObject({
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      generationConfig: { temperature: 0.2 },
      tools: [{ functionDeclarations: [{ name: 'get_weather' }] }],
      contents: [
        { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
        { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { celsius: 21 } } }, { text: 'And so?' }] },
      ],
    });
    const choice = data.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.tool_calls?.[0]).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    expect(data.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 4 });
  });

  it('streams, and falls back across providers when they are overloaded', async () => {
    const stream = await client.chat.completions.create({ model: 'resilient', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Hello from Gemini.');
    expect(usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 4 });
    await server.gateway.flush();
    const { rows } = await server.db.query<{ attempts: { provider: string; status: number | null }[]; cost_usd: string }>("select attempts, cost_usd from gateway_traces where route = 'resilient'");
    expect(rows[0]?.attempts.map((a) => `${a.provider}:${a.status ?? ''}`)).toEqual(['claude:529', 'google:503', 'google:']);
    expect(Number(rows[0]?.cost_usd)).toBe(13);
  });
});

describe('bedrock', () => {
  it('translates a conversation with tools both ways, with the Bedrock API key', async () => {
    const data = await client.chat.completions.create({ model: 'aws/anthropic.claude-x:0-tools', messages: conversation, tools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 50 });
    const sent = bedrock.requests.at(-1)!;
    expect(sent.path).toBe('/v1/model/anthropic.claude-x%3A0-tools/converse');
    expect(sent.headers.authorization).toBe(`Bearer ${process.env.PATH}`);
    expect(sent.body).toMatchObject({
      system: [{ text: 'Be brief.' }],
      inferenceConfig: { maxTokens: 50 },
      toolConfig: { tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object' } } } }], toolChoice: { tool: { name: 'get_weather' } } },
      messages: [
        { role: 'user', content: [{ text: 'Weather in Paris?' }] },
        { role: 'assistant', content: [{ toolUse: { toolUseId: 'call_9', name: 'get_weather', input: { city: 'Paris' } } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: 'call_9', content: [{ text: '{"celsius": 21}' }] } }, { text: 'And so?' }] },
      ],
    });
    expect(data.choices[0]).toMatchObject({ finish_reason: 'tool_calls', message: { content: null, tool_calls: [{ id: 'tooluse_1', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } });
    expect(data.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7 });
  });

  it('streams the event-stream encoding as OpenAI chunks, and ends with an error event on a mid-stream exception', async () => {
    const stream = await client.chat.completions.create({ model: 'aws/anthropic.claude-x:0-tools', messages: conversation, tools, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let args = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Hello from Bedrock.');
    expect(JSON.parse(args)).toEqual({ city: 'Paris' });
    expect(usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7 });
    const broken = await client.chat.completions.create({ model: 'aws-midstream', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    const error = await (async () => {
      for await (const _chunk of broken);
    })().catch((e: unknown) => e);
    expect(String((error as Error).message)).toContain('throttlingException');
  });
});

describe('bedrock with AWS Signature V4', () => {
  it('signs plain and streaming calls so that the stub verifies them with the known secret', async () => {
    const data = await client.chat.completions.create({ model: 'aws-signed/anthropic.claude-x:0', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 20 });
    expect(data.choices[0]?.message.content).toBe('Hello from Bedrock.');
    const plain = signedBedrock.requests.at(-1)!;
    expect(plain.path).toBe('/v1/model/anthropic.claude-x%3A0/converse');
    expect(plain.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTARMACTEST\/\d{8}\/eu-central-1\/bedrock\/aws4_request, /);
    expect(plain.headers['x-amz-security-token']).toBe(AWS.sessionToken);
    expect(sigV4Problem(plain.method, plain.path, plain.headers, plain.raw, AWS)).toBeNull();

    const stream = await client.chat.completions.create({ model: 'aws-signed/anthropic.claude-x:0', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello from Bedrock.');
    const streamed = signedBedrock.requests.at(-1)!;
    expect(streamed.path).toBe('/v1/model/anthropic.claude-x%3A0/converse-stream');
    expect(sigV4Problem(streamed.method, streamed.path, streamed.headers, streamed.raw, AWS)).toBeNull();
  });

  it('answers the upstream refusal of a wrong secret, and names an unset variable', async () => {
    const wrong = await client.chat.completions.create({ model: 'aws-wrong/anthropic.claude-x:0', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(OpenAI.APIError);
    expect((wrong as Error).message).toContain('signature does not match');
    const unset = await client.chat.completions.create({ model: 'aws-unset/anthropic.claude-x:0', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect((unset as Error).message).toContain('environment variable TARMAC_TEST_AWS_NOT_SET is not set');
    expect(JSON.stringify(unset)).not.toContain(AWS.secretAccessKey);
  });
});
