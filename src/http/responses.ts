import { isDeepStrictEqual } from 'node:util';
import type { RouteOptions } from 'fastify';
import fastJson from 'fast-json-stringify';
import { z } from 'zod';
import { undeclaredResponse } from '../access/index.js';

type JsonSchema = Record<string, unknown>;

// Keywords fast-json-stringify would act on wrongly: `default` would fill a missing required field instead of failing.
const DROPPED = new Set(['$schema', 'default', 'propertyNames', 'description']);
const NAMED = new Set(['properties', 'patternProperties', '$defs', 'definitions']);

/** A JSON Schema from zod's, shaped for fast-json-stringify: `anyOf [X, null]` becomes its cheaper `nullable`. */
function normalise(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normalise);
  if (typeof node !== 'object' || node === null) return node;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key)) continue;
    // These hold schemas by name: the names are fields, not keywords.
    out[key] = NAMED.has(key) ? Object.fromEntries(Object.entries(value as JsonSchema).map(([k, v]) => [k, normalise(v)])) : normalise(value);
  }
  // An `unknown` field may hold undefined, which JSON leaves out: fast-json-stringify must not require it.
  if (Array.isArray(out.required) && typeof out.properties === 'object' && out.properties !== null) {
    const properties = out.properties as Record<string, JsonSchema>;
    out.required = out.required.filter((key: string) => Object.keys(properties[key] ?? {}).length > 0);
  }
  const options = out.anyOf;
  if (Array.isArray(options) && options.length === 2 && Object.keys(out).length === 1) {
    const [a, b] = options as JsonSchema[];
    const isNull = (s: JsonSchema | undefined) => s?.type === 'null' && Object.keys(s).length === 1;
    const other = isNull(b) ? a : isNull(a) ? b : undefined;
    if (other && typeof other.type === 'string' && !other.anyOf && !other.oneOf && !other.allOf) return { ...other, nullable: true };
  }
  return out;
}

/** The JSON Schema of a response as fast-json-stringify compiles it: the output side of the zod schema. */
export function responseJsonSchema(schema: z.ZodType): JsonSchema {
  return normalise(z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' })) as JsonSchema;
}

/** Where two JSON values first differ, as a path like `tasks[0].extra`. */
function firstDifference(a: unknown, b: unknown, at: string): string | null {
  if (isDeepStrictEqual(a, b)) return null;
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${at}[${i}]`);
      if (d) return d;
    }
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const x = a as JsonSchema;
    const y = b as JsonSchema;
    for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) {
      const path = at ? `${at}.${key}` : key;
      if (!(key in y)) return `${path} is not in the schema`;
      if (!(key in x)) return `${path} is missing from the response`;
      const d = firstDifference(x[key], y[key], path);
      if (d) return d;
    }
  }
  return `${at || 'the body'} is ${JSON.stringify(a)?.slice(0, 80)} but serialises as ${JSON.stringify(b)?.slice(0, 80)}`;
}

// A GET route's HEAD twin and routes sharing a schema share one compiled serializer (compiling is what start-up pays).
const compiled = new WeakMap<z.ZodType, (data: unknown) => string>();

/**
 * A serializer compiled from a route's zod response schema. Fields the schema lacks are dropped by the
 * compiled serializer; with `check`, every response is also compared with its plain JSON form and a
 * difference (a field the schema lacks, a value of another type) fails the request instead.
 */
export function compileResponseSerializer(schema: z.ZodType, route: string, check: boolean): (data: unknown) => string {
  let stringify = compiled.get(schema);
  if (!stringify) {
    stringify = fastJson(responseJsonSchema(schema) as fastJson.AnySchema) as (data: unknown) => string;
    compiled.set(schema, stringify);
  }
  if (!check) return stringify;
  return (data) => {
    const body = stringify(data);
    const plain = JSON.stringify(data);
    const difference = firstDifference(plain === undefined ? undefined : JSON.parse(plain), JSON.parse(body), '');
    if (difference) throw new Error(`the response of ${route} does not match its schema: ${difference}`);
    return body;
  };
}

/**
 * Refuses a route that declares no response schema (unless its config says why not: a stream, a pass-through body,
 * a body that is not JSON), or declares one that is not a zod schema.
 */
export function requireResponseSchemas(route: Pick<RouteOptions, 'method' | 'url' | 'schema' | 'config'>): void {
  const responses = Object.values((route.schema?.response as Record<string, unknown> | undefined) ?? {});
  const name = `route ${String(route.method)} ${route.url}`;
  if (responses.length === 0 && !undeclaredResponse(route.config)) throw new Error(`${name} declares no response schema (or why not: routeAuth(auth, { undeclaredResponse }))`);
  if (responses.some((schema) => !(schema instanceof z.ZodType))) throw new Error(`${name} declares a response that is not a zod schema`);
}
