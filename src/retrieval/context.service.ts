import { z } from 'zod';
import { parseInput, TarmacError } from '../errors/index.js';
import { classificationRank, CLASSIFICATIONS } from '../policies/index.js';
import { loadTokenizer, type EntityField, type SourceService } from '../sources/index.js';
import type { RetrievalService, SearchIdentity } from './retrieval.service.js';
import type { AssembledContext, ContextManifest, ContextPassage, FiredRule, ManifestChunk, SearchHit } from './retrieval.schema.js';

const Fallback = z.enum(['fail', 'warn', 'proceed_flagged']);

/** A context recipe: what a use case's context is made of. */
export const ContextRecipe = z.strictObject({
  sources: z.array(z.string().min(1)).optional().describe('Sources to retrieve from (names or ids); default all the caller may read'),
  k: z.number().int().min(1).max(200).default(8).describe('Chunks retrieved before the budget is applied'),
  tokenBudget: z.number().int().min(1).max(1_000_000).default(2000).describe('Tokens the assembled context may use'),
  metadata: z.record(z.string(), z.unknown()).optional().describe('Only chunks whose metadata contains these values'),
  lookups: z
    .array(
      z.strictObject({
        name: z.string().min(1).describe('Name of the lookup in the manifest'),
        key: z.string().min(1).describe('Entity key; {input} placeholders are filled from the request inputs'),
        sources: z.array(z.string().min(1)).optional().describe('Record sources to read; default all'),
        fields: z.array(z.strictObject({ name: z.string().min(1), required: z.boolean().default(false) })).default([]),
      }),
    )
    .default([]),
  exclude: z
    .strictObject({
      above: z.enum(CLASSIFICATIONS).optional().describe('Leave out chunks classified above this'),
      sources: z.array(z.string().min(1)).default([]).describe('Leave out chunks of these sources'),
      metadata: z.record(z.string(), z.unknown()).optional().describe('Leave out chunks whose metadata contains these values'),
      stale: z.boolean().default(false).describe('Leave out chunks of sources past their freshness SLA'),
    })
    .default({ sources: [], stale: false }),
  fallback: z
    .strictObject({
      missingField: Fallback.default('fail').describe('When a required lookup field is missing'),
      staleSource: Fallback.default('warn').describe('When a source used is past its freshness SLA'),
      noResults: Fallback.default('proceed_flagged').describe('When retrieval finds nothing'),
    })
    .default({ missingField: 'fail', staleSource: 'warn', noResults: 'proceed_flagged' }),
});
export type ContextRecipe = z.output<typeof ContextRecipe>;
export type ContextRecipeInput = z.input<typeof ContextRecipe>;


/** The context text a prompt gets: each passage under its label, one blank line between passages. */
export function renderContext(passages: readonly ContextPassage[]): string {
  return passages.map((p) => `${p.label}\n${p.text}`).join('\n\n');
}

function contains(metadata: Record<string, unknown>, wanted: Record<string, unknown>): boolean {
  return Object.entries(wanted).every(([k, v]) => JSON.stringify(metadata[k]) === JSON.stringify(v));
}

function fillKey(template: string, inputs: Record<string, string>): string {
  return template.replace(/\{([A-Za-z0-9_]+)\}/g, (_, name: string) => {
    const value = inputs[name];
    if (value === undefined) throw new TarmacError('validation_failed', `the lookup key needs the input "${name}"`, { input: name });
    return value;
  });
}

// Label lines counted lately: a chunk that recurs mostly recurs at the same place, under the same label.
const labels = new Map<string, number>();
const LABELS = 4096;
function labelTokens(label: string, count: (text: string) => number): number {
  let n = labels.get(label);
  if (n === undefined) {
    n = count(label);
    if (labels.size >= LABELS) labels.delete(labels.keys().next().value as string);
    labels.set(label, n);
  }
  return n;
}

/**
 * Context assembly from a recipe: retrieval as the caller, required record lookups by key, exclusion rules,
 * packing into a token budget, and the recipe's fallbacks (`fail`, `warn`, `proceed_flagged`). Returns the
 * context text and its manifest.
 *
 * @example
 * const { context, manifest } = await assembler.assemble(identity, recipe, { query: 'refund rules', inputs: { customer: 'c1' } });
 */
export class ContextAssembler {
  constructor(
    private readonly retrieval: RetrievalService,
    private readonly sources: SourceService,
  ) {}

  async assemble(identity: SearchIdentity, recipeInput: ContextRecipeInput, request: { query: string; inputs?: Record<string, string> }): Promise<AssembledContext> {
    const recipe = parseInput(ContextRecipe, recipeInput, 'recipe');
    const tokenizer = await loadTokenizer();
    const countTokens = (text: string) => tokenizer.countTokens(text);
    const rules: FiredRule[] = [];
    const warnings: string[] = [];
    let flagged = false;
    const fallback = (action: 'fail' | 'warn' | 'proceed_flagged', rule: string, detail: string, code: 'source_stale' | 'required_field_missing' | 'not_found') => {
      rules.push({ rule, detail, action });
      if (action === 'fail') throw new TarmacError(code, detail, { rule });
      if (action === 'warn') warnings.push(detail);
      else flagged = true;
    };

    const lookups: ContextManifest['lookups'] = [];
    const passages: ContextPassage[] = [];
    let used = 0;
    for (const lookup of recipe.lookups) {
      const key = fillKey(lookup.key, request.inputs ?? {});
      const ids = lookup.sources ? await Promise.all(lookup.sources.map(async (s) => (await this.sources.byRef(s))?.id ?? s)) : undefined;
      const entity = await this.sources.lookup(identity.principals, key, ids);
      const fields: Record<string, EntityField | null> = {};
      const wanted = lookup.fields.length > 0 ? lookup.fields : Object.keys(entity.fields).map((name) => ({ name, required: false }));
      for (const f of wanted) {
        fields[f.name] = entity.fields[f.name] ?? null;
        if (!entity.fields[f.name] && f.required) fallback(recipe.fallback.missingField, 'required_field', `lookup ${lookup.name}: required field ${f.name} is missing for key ${key}`, 'required_field_missing');
        const competing = entity.fields[f.name]?.competing ?? [];
        if (competing.some((c) => JSON.stringify(c.value) !== JSON.stringify(entity.fields[f.name]?.value))) {
          rules.push({ rule: 'precedence', detail: `lookup ${lookup.name}: ${f.name} taken from ${entity.fields[f.name]!.source}; competing values from ${competing.map((c) => c.source).join(', ')}` });
        }
      }
      for (const s of entity.sources.filter((x) => x.stale)) fallback(recipe.fallback.staleSource, 'stale_source', `source ${s.name} is past its freshness SLA (lag ${s.lagSeconds ?? 'never synced'} s)`, 'source_stale');
      lookups.push({ name: lookup.name, key, found: entity.found, fields, sources: entity.sources.map((s) => ({ name: s.name, stale: s.stale, lagSeconds: s.lagSeconds })) });
      const present = Object.entries(fields).filter((e): e is [string, EntityField] => e[1] !== null);
      const text = present.map(([name, f]) => `- ${name}: ${typeof f.value === 'string' ? f.value : JSON.stringify(f.value)} [${f.source}]`).join('\n');
      const label = `[${passages.length + 1}] record ${lookup.name} (${key})`;
      used += countTokens(`${label}\n${text}`);
      passages.push({ id: String(passages.length + 1), kind: 'record', label, text, source: present[0]?.[1].source ?? '', documentId: key, title: `${lookup.name} (${key})`, chunkId: null });
    }

    const { results: hits, warnings: searchWarnings } = await this.retrieval.retrieve(identity, { query: request.query, k: recipe.k, sources: recipe.sources, metadata: recipe.metadata });
    warnings.push(...searchWarnings);
    const excludedSources = new Set<string>();
    for (const ref of recipe.exclude.sources) {
      const row = await this.sources.byRef(ref);
      if (row) excludedSources.add(row.id);
    }
    const chunks: ManifestChunk[] = [];
    const staleSeen = new Set<string>();
    const keep = (h: SearchHit): boolean => {
      if (recipe.exclude.above && classificationRank(h.classification) > classificationRank(recipe.exclude.above)) {
        rules.push({ rule: 'exclude.classification', detail: `${h.source}/${h.documentId} is ${h.classification}, above ${recipe.exclude.above}`, chunkId: h.chunkId });
        return false;
      }
      if (excludedSources.has(h.sourceId)) {
        rules.push({ rule: 'exclude.source', detail: `${h.source} is excluded`, chunkId: h.chunkId });
        return false;
      }
      if (recipe.exclude.metadata && contains(h.metadata, recipe.exclude.metadata)) {
        rules.push({ rule: 'exclude.metadata', detail: `${h.source}/${h.documentId} matches the metadata exclusion`, chunkId: h.chunkId });
        return false;
      }
      if (h.stale && recipe.exclude.stale) {
        rules.push({ rule: 'exclude.stale', detail: `${h.source} is past its freshness SLA`, chunkId: h.chunkId });
        return false;
      }
      return true;
    };
    for (const h of hits) {
      if (!keep(h)) continue;
      const ref = passages.length + 1;
      const label = `[${ref}] ${h.source}/${h.documentId} v${h.version}${h.sectionPath.length > 0 ? ` § ${h.sectionPath.join(' > ')}` : ''}`;
      // The chunk's own count was taken at indexing: only its label line is counted now.
      const tokens = labelTokens(`${label}\n`, countTokens) + h.tokenCount;
      if (used + tokens > recipe.tokenBudget) {
        rules.push({ rule: 'token_budget', detail: `${h.source}/${h.documentId} (${tokens} tokens) does not fit the budget of ${recipe.tokenBudget}`, chunkId: h.chunkId });
        continue;
      }
      if (h.stale && !staleSeen.has(h.source)) {
        staleSeen.add(h.source);
        fallback(recipe.fallback.staleSource, 'stale_source', `source ${h.source} is past its freshness SLA`, 'source_stale');
      }
      used += tokens;
      passages.push({ id: String(ref), kind: 'chunk', label, text: h.text, source: h.source, documentId: h.documentId, title: h.title, chunkId: h.chunkId });
      chunks.push({
        ref,
        chunkId: h.chunkId,
        documentId: h.documentId,
        version: h.version,
        source: h.source,
        title: h.title,
        sectionPath: h.sectionPath,
        start: h.start,
        end: h.end,
        score: h.score,
        tokens,
        classification: h.classification,
        freshness: { indexedAt: h.indexedAt, stale: h.stale },
      });
    }
    if (chunks.length === 0 && recipe.lookups.length === 0) fallback(recipe.fallback.noResults, 'no_results', `nothing the caller may read matches "${request.query}"`, 'not_found');
    return {
      context: renderContext(passages),
      passages,
      manifest: { query: request.query, as: identity.label, assembledAt: new Date().toISOString(), tokenBudget: recipe.tokenBudget, tokensUsed: used, chunks, lookups, rules, flagged, warnings },
    };
  }
}
