/** Deepest nesting of objects and arrays Tarmac accepts in a request or a YAML file (the top level is 1). */
export const MAX_NESTING_DEPTH = 64;

/** Keys that could reach an object's prototype; refused everywhere. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

// With the u flag a well-formed pair is one code point, so only lone surrogates match the range.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** The first thing in a value that Tarmac does not accept as text, located by its path. */
export interface TextProblem {
  kind: 'text' | 'forbidden_key' | 'depth';
  path: (string | number)[];
  message: string;
}

function textMessage(s: string, what: string): string | undefined {
  if (s.includes('\u0000')) return `${what} contains a NUL character (U+0000)`;
  const found = LONE_SURROGATE.exec(s)?.[0];
  if (found === undefined) return undefined;
  return `${what} contains a lone UTF-16 surrogate (U+${found.charCodeAt(0).toString(16).toUpperCase()})`;
}

interface Frame {
  value: unknown;
  key: string | number | null;
  parent: Frame | null;
  depth: number;
}

function pathOf(frame: Frame): (string | number)[] {
  const path: (string | number)[] = [];
  for (let f: Frame | null = frame; f && f.key !== null; f = f.parent) path.push(f.key);
  return path.reverse();
}

/**
 * Finds the first string or key Tarmac refuses (NUL, a lone surrogate, `__proto__`/`constructor`/`prototype`)
 * or the first object nested deeper than `maxDepth`. Iterative and linear in the size of the value.
 *
 * @example
 * const problem = findTextProblem(JSON.parse(body)); // { kind: 'text', path: ['messages', 0, 'content'], … }
 */
export function findTextProblem(value: unknown, maxDepth = MAX_NESTING_DEPTH): TextProblem | undefined {
  const stack: Frame[] = [{ value, key: null, parent: null, depth: 0 }];
  for (let frame = stack.pop(); frame; frame = stack.pop()) {
    const v = frame.value;
    if (typeof v === 'string') {
      const message = textMessage(v, 'the text');
      if (message) return { kind: 'text', path: pathOf(frame), message };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    const depth = frame.depth + 1;
    if (depth > maxDepth) return { kind: 'depth', path: pathOf(frame), message: `nested too deep: objects and arrays may nest at most ${maxDepth} levels` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], key: i, parent: frame, depth });
      continue;
    }
    const keys = Object.keys(v);
    for (const key of keys) {
      const problem = FORBIDDEN_KEYS.has(key) ? `the key ${key} is not allowed` : textMessage(key, 'the key');
      if (problem) return { kind: FORBIDDEN_KEYS.has(key) ? 'forbidden_key' : 'text', path: [...pathOf(frame), key], message: problem };
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      stack.push({ value: (v as Record<string, unknown>)[key], key, parent: frame, depth });
    }
  }
  return undefined;
}
