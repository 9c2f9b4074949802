import { describe, expect, it } from 'vitest';
import { findTextProblem, MAX_NESTING_DEPTH } from './index.js';

describe('findTextProblem', () => {
  it('accepts ordinary text, well-formed surrogate pairs and nesting up to the limit', () => {
    const atLimit = JSON.parse(`${'['.repeat(MAX_NESTING_DEPTH)}"ok 😀"${']'.repeat(MAX_NESTING_DEPTH)}`) as unknown;
    expect(findTextProblem({ a: ['x', 1, null, true, { b: 'ü \ud83d\ude00' }] })).toBeUndefined();
    expect(findTextProblem(atLimit)).toBeUndefined();
  });

  it('names the path of a NUL or a lone surrogate in a value or a key', () => {
    expect(findTextProblem({ messages: [{ content: 'ok' }, { content: 'a\u0000b' }] })).toEqual({
      kind: 'text',
      path: ['messages', 1, 'content'],
      message: 'the text contains a NUL character (U+0000)',
    });
    expect(findTextProblem(['\ud800'])).toMatchObject({ path: [0], message: expect.stringContaining('U+D800') });
    expect(findTextProblem(['x\udc00y'])).toMatchObject({ path: [0], message: expect.stringContaining('lone UTF-16 surrogate') });
    expect(findTextProblem({ m: { 'k\u0000': 1 } })).toMatchObject({ kind: 'text', path: ['m', 'k\u0000'], message: expect.stringContaining('the key') });
  });

  it('refuses prototype keys wherever they are', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      expect(findTextProblem(JSON.parse(`{"a":[{"${key}":{}}]}`))).toMatchObject({ kind: 'forbidden_key', path: ['a', 0, key] });
    }
  });

  it('stops at the depth limit without recursing, however deep the value', () => {
    const deep = JSON.parse(`${'['.repeat(500_000)}${']'.repeat(500_000)}`) as unknown;
    const problem = findTextProblem(deep);
    expect(problem).toMatchObject({ kind: 'depth' });
    expect(problem?.path).toHaveLength(MAX_NESTING_DEPTH);
  });
});
