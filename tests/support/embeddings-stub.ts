// A local stub of an OpenAI-compatible embeddings endpoint (POST /v1/embeddings) on 127.0.0.1: a hashed
// bag of words in DIM dimensions, with a few synonyms folded together so that "meaning" can be tested.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const DIM = 32;
const SYNONYMS: Record<string, string> = { automobile: 'car', vehicle: 'car', physician: 'doctor' };

export function stubEmbedding(text: string, dim = DIM): number[] {
  const v = new Array<number>(dim).fill(0);
  for (const raw of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    const word = SYNONYMS[raw] ?? raw;
    let h = 0;
    for (const ch of word) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    v[h % dim]! += 1;
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

/**
 * How the stub answers: `ok`; `fail` (HTTP 500); `hang` (never answers); `floats` (float arrays even when asked
 * for base64, as some servers do); `malformed` (a body without `data`).
 */
export type StubBehaviour = 'ok' | 'fail' | 'hang' | 'floats' | 'malformed';

export interface EmbeddingsStub {
  url: string;
  calls: () => number;
  behave: (behaviour: StubBehaviour) => void;
  close: () => Promise<void>;
}

export async function startEmbeddingsStub(dim = DIM, initial: StubBehaviour = 'ok'): Promise<EmbeddingsStub> {
  let calls = 0;
  let behaviour = initial;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
        res.writeHead(404).end();
        return;
      }
      calls++;
      if (behaviour === 'hang') return;
      if (behaviour === 'fail') {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'the model is not loaded' } }));
        return;
      }
      if (behaviour === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', model: 'stub' }));
        return;
      }
      const { input, model, encoding_format: format } = JSON.parse(body) as { input: string | string[]; model: string; encoding_format?: string };
      const inputs = Array.isArray(input) ? input : [input];
      const base64 = format === 'base64' && behaviour !== 'floats';
      const data = inputs.map((text, index) => {
        const e = stubEmbedding(text, dim);
        return { object: 'embedding', index, embedding: base64 ? Buffer.from(new Float32Array(e).buffer).toString('base64') : e };
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data, model, usage: { prompt_tokens: 1, total_tokens: 1 } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return {
    url,
    calls: () => calls,
    behave: (b) => (behaviour = b),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
