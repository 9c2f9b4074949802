import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { callerOf, routeAuth, type ZodTypeProvider } from '../access/index.js';
import { AddedVersion, LabelName, PromptContent, PromptDetail, PromptDiff, PromptName, PromptSummary, PromptVersion, RenderedPrompt } from './prompts.schema.js';
import type { PromptService, VersionSelector } from './prompts.service.js';

const Labels = z.array(LabelName).max(20).optional().describe('Labels to point at this version');
const Note = z.string().max(2000).optional().describe('What changed and why');
const CreateBody = z.strictObject({
  name: PromptName,
  team: z.string().min(1).max(200).describe('Owning team (id or name)'),
  description: z.string().max(2000).optional(),
  ...PromptContent.shape,
  note: Note,
  labels: Labels,
});
const VersionBody = z.strictObject({ ...PromptContent.shape, note: Note, labels: Labels });
const Params = z.strictObject({ prompt: z.string().min(1).max(100) });
const VersionParams = z.strictObject({ prompt: z.string().min(1).max(100), version: z.coerce.number().int().min(1) });
const LabelParams = z.strictObject({ prompt: z.string().min(1).max(100), label: LabelName });
const RenderBody = z
  .strictObject({
    version: z.number().int().min(1).optional(),
    label: LabelName.optional(),
    variables: z.record(z.string(), z.unknown()).default({}),
  })
  .refine((b) => !(b.version !== undefined && b.label !== undefined), { message: 'give version or label, not both', path: ['label'] });

const selector = (b: { version?: number | undefined; label?: string | undefined }): VersionSelector =>
  b.version !== undefined ? { version: b.version } : { label: b.label ?? 'production' };

/** `/api/v1/prompts…`: the prompt registry. */
export function registerPromptRoutes(app: FastifyInstance, prompts: PromptService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const read = routeAuth({ scope: 'read' });
  const write = routeAuth({ scope: 'write' });
  const tags = ['prompts'];

  r.get('/api/v1/prompts', { config: read, schema: { summary: 'Prompts of your teams (admins: all).', tags, response: { 200: z.object({ prompts: z.array(PromptSummary) }) } } }, async (request) => ({
    prompts: await prompts.list(callerOf(request)),
  }));

  r.post(
    '/api/v1/prompts',
    { config: write, schema: { summary: 'Create a prompt with its first version (team builders; labelling production needs an owner).', tags, body: CreateBody, response: { 201: PromptVersion } } },
    async (request, reply) => {
      const { name, team, description, note, labels, ...content } = request.body;
      return reply.code(201).send(await prompts.create(callerOf(request), { name, team, description, note, labels, content }));
    },
  );

  r.get(
    '/api/v1/prompts/:prompt',
    { config: read, schema: { summary: 'A prompt with its labels and every version.', tags, params: Params, response: { 200: PromptDetail } } },
    async (request) => prompts.get(callerOf(request), request.params.prompt),
  );

  r.post(
    '/api/v1/prompts/:prompt/versions',
    {
      config: write,
      schema: {
        summary: 'Add a version (none if the content equals an existing one) and optionally move labels to it.',
        tags,
        params: Params,
        body: VersionBody,
        response: { 200: AddedVersion },
      },
    },
    async (request) => {
      const { note, labels, ...content } = request.body;
      return prompts.addVersion(callerOf(request), request.params.prompt, { content, note, labels });
    },
  );

  r.get(
    '/api/v1/prompts/:prompt/versions/:version',
    { config: read, schema: { summary: 'One version of a prompt.', tags, params: VersionParams, response: { 200: PromptVersion } } },
    async (request) => prompts.getVersion(callerOf(request), request.params.prompt, { version: request.params.version }),
  );

  r.get(
    '/api/v1/prompts/:prompt/diff',
    {
      config: read,
      schema: {
        summary: 'Unified diff between two versions.',
        tags,
        params: Params,
        querystring: z.strictObject({ from: z.coerce.number().int().min(1), to: z.coerce.number().int().min(1) }),
        response: { 200: PromptDiff },
      },
    },
    async (request) => prompts.diff(callerOf(request), request.params.prompt, request.query.from, request.query.to),
  );

  r.put(
    '/api/v1/prompts/:prompt/labels/:label',
    {
      config: write,
      schema: {
        summary: 'Point a label at a version (rollback = move it back); production needs a team owner.',
        tags,
        params: LabelParams,
        body: z.strictObject({
          version: z.number().int().min(1),
          overrideGate: z.string().min(3).max(2000).optional().describe('Moves production past a failing promotion gate: the reason, audited (team owners and admins)'),
        }),
        response: { 200: PromptSummary },
      },
    },
    async (request) => prompts.moveLabel(callerOf(request), request.params.prompt, request.params.label, request.body.version, { overrideGate: request.body.overrideGate }),
  );

  r.delete(
    '/api/v1/prompts/:prompt/labels/:label',
    { config: write, schema: { summary: 'Remove a label.', tags, params: LabelParams, response: { 200: PromptSummary } } },
    async (request) => prompts.removeLabel(callerOf(request), request.params.prompt, request.params.label),
  );

  r.post(
    '/api/v1/prompts/:prompt/render',
    {
      config: read,
      schema: {
        summary: 'Render a version (by number, or by label; default production) with variables.',
        tags,
        params: Params,
        body: RenderBody,
        response: { 200: RenderedPrompt },
      },
    },
    async (request) => prompts.render(callerOf(request), request.params.prompt, selector(request.body), request.body.variables),
  );
}
