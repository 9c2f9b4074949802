import type { RouteOptions } from 'fastify';
import { z } from 'zod';

interface CollectedRoute {
  method: string;
  url: string;
  schema: Record<string, unknown> | undefined;
  secured: boolean;
}

const toJson = (schema: unknown, io: 'input' | 'output') =>
  schema instanceof z.ZodType ? z.toJSONSchema(schema, { io, unrepresentable: 'any' }) : undefined;

/** Collects routes as they register and renders an OpenAPI 3.1 document from their zod schemas. */
export class OpenApiCollector {
  private readonly routes: CollectedRoute[] = [];

  add(route: RouteOptions, secured: boolean): void {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      this.routes.push({ method: method.toLowerCase(), url: route.url, schema: route.schema as Record<string, unknown> | undefined, secured });
    }
  }

  document(info: { title: string; version: string }): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const route of this.routes) {
      const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const s = route.schema ?? {};
      const parameters: unknown[] = [];
      for (const [where, key] of [
        ['path', 'params'],
        ['query', 'querystring'],
      ] as const) {
        const json = toJson(s[key], 'input') as { properties?: Record<string, unknown>; required?: string[] } | undefined;
        for (const [name, schema] of Object.entries(json?.properties ?? {})) {
          parameters.push({ name, in: where, required: where === 'path' || (json?.required ?? []).includes(name), schema });
        }
      }
      const responses: Record<string, unknown> = {};
      for (const [status, schema] of Object.entries((s.response as Record<string, unknown> | undefined) ?? {})) {
        responses[status] = { description: status, content: { 'application/json': { schema: toJson(schema, 'output') ?? {} } } };
      }
      responses.default = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      const body = toJson(s.body, 'input');
      (paths[path] ??= {})[route.method] = {
        summary: s.summary,
        tags: s.tags,
        ...(parameters.length ? { parameters } : {}),
        ...(body ? { requestBody: { required: true, content: { 'application/json': { schema: body } } } } : {}),
        responses,
        ...(route.secured ? {} : { security: [] }),
      };
    }
    return {
      openapi: '3.1.0',
      info,
      servers: [{ url: '/' }],
      security: [{ apiKey: [] }],
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'A Tarmac API key (tmk_…)' } },
        schemas: {
          Error: {
            type: 'object',
            required: ['error'],
            properties: {
              error: {
                type: 'object',
                required: ['code', 'message'],
                properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
              },
            },
          },
        },
      },
      paths,
    };
  }
}
