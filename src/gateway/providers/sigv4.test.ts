// AWS Signature V4 for Bedrock: signatures checked by an independent implementation of the specification.
import { describe, expect, it } from 'vitest';
import { sigV4Problem } from '../../../tests/support/sigv4.js';
import { GatewayConfig } from '../gateway.schema.js';
import { SigV4Signer } from './sigv4.js';

const env = { K: 'AKIDEXAMPLE', S: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', T: 'session-token-1' };
const aws = { region: 'eu-west-1', accessKeyIdEnv: 'K', secretAccessKeyEnv: 'S', sessionTokenEnv: 'T' };
const expectation = { accessKeyId: env.K, secretAccessKey: env.S, sessionToken: env.T, region: 'eu-west-1', service: 'bedrock' };

describe('SigV4Signer', () => {
  const url = 'http://127.0.0.1:9/v1/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse';
  const body = '{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}';

  it('signs the path, host, date, session token and body of the request', () => {
    const headers = new SigV4Signer('aws', 'bedrock', aws, env).sign(url, { 'content-type': 'application/json' }, body);
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/bedrock\/aws4_request, SignedHeaders=\S*host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/);
    expect(headers['x-amz-security-token']).toBe(env.T);
    expect(sigV4Problem('POST', '/v1/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse', { ...headers }, body, expectation)).toBeNull();
    expect(sigV4Problem('POST', '/v1/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse', { ...headers }, body.replace('Hi', 'Ho'), expectation)).toBe('signature does not match');
    expect(sigV4Problem('POST', '/v1/model/other/converse', { ...headers }, body, expectation)).toBe('signature does not match');
    expect(sigV4Problem('POST', '/v1/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse', { ...headers }, body, { ...expectation, secretAccessKey: 'other' })).toBe('signature does not match');
  });

  it('fails each call naming the variable that is not set, never a value', () => {
    const signer = new SigV4Signer('aws', 'bedrock', aws, { K: env.K, T: env.T });
    expect(() => signer.sign(url, {}, body)).toThrow('aws: AWS credentials are missing: environment variable S is not set');
  });
});

describe('gateway.providers[].aws', () => {
  const provider = (extra: Record<string, unknown>) => GatewayConfig.safeParse({ providers: [{ name: 'aws', type: 'bedrock', ...extra }] });

  it('takes the region from an AWS endpoint, or requires it', () => {
    expect(provider({ baseUrl: 'https://bedrock-runtime.us-east-1.amazonaws.com', aws: { accessKeyIdEnv: 'K', secretAccessKeyEnv: 'S' } }).success).toBe(true);
    const local = provider({ baseUrl: 'http://127.0.0.1:8080', aws: { accessKeyIdEnv: 'K', secretAccessKeyEnv: 'S' } });
    expect(local.error?.issues[0]).toMatchObject({ path: ['providers', 0, 'aws', 'region'] });
  });

  it('refuses aws on other provider types, and together with apiKeyEnv', () => {
    const keys = { accessKeyIdEnv: 'K', secretAccessKeyEnv: 'S', region: 'eu-west-1' };
    expect(GatewayConfig.safeParse({ providers: [{ name: 'o', type: 'openai-compatible', baseUrl: 'http://x', aws: keys }] }).error?.issues[0]?.message).toBe('aws credentials apply to bedrock providers only');
    expect(provider({ baseUrl: 'http://x', apiKeyEnv: 'KEY', aws: keys }).error?.issues[0]?.message).toContain('not both');
  });
});
