import type { Principal } from '../access/index.js';
import type { Database } from '../db/index.js';
import { TarmacError } from '../errors/index.js';
import { freshnessOf, type SourceService } from '../sources/index.js';
import { ContextAssembler, type AssembledContext, type ContextRecipeInput } from './context.service.js';
import * as repo from './retrieval.repository.js';

/** One search result: a chunk, where it comes from, and how fresh its source is. */
export interface SearchHit {
  chunkId: number;
  source: string;
  sourceId: string;
  documentId: string;
  version: number;
  title: string;
  text: string;
  sectionPath: string[];
  start: number;
  end: number;
  tokenCount: number;
  classification: string;
  metadata: Record<string, unknown>;
  score: number;
  indexedAt: string;
  stale: boolean;
}

export interface SearchInput {
  query: string;
  k?: number | undefined;
  /** Source names or ids to search; default all. */
  sources?: string[] | undefined;
  /** Only chunks whose metadata contains these key/values. */
  metadata?: Record<string, unknown> | undefined;
  /** Search as this user (platform admins only); default the caller. */
  as?: string | undefined;
}

export interface SearchResult {
  query: string;
  as: string;
  mode: 'lexical';
  results: SearchHit[];
}

/** Who a search runs as: a label and the principals whose access lists it may read. */
export interface SearchIdentity {
  label: string;
  principals: string[];
}

export function hitView(row: repo.HitRow): SearchHit {
  return {
    chunkId: Number(row.id),
    source: row.source_name,
    sourceId: row.source_id,
    documentId: row.doc_id,
    version: row.doc_version,
    title: row.title,
    text: row.text,
    sectionPath: row.section_path,
    start: row.start_offset,
    end: row.end_offset,
    tokenCount: row.token_count,
    classification: row.classification,
    metadata: row.metadata,
    score: Number(row.score),
    indexedAt: row.indexed_at.toISOString(),
    stale: freshnessOf(row).stale,
  };
}

/**
 * Retrieval as a caller: every search runs with the caller's principals, and the access filter sits inside
 * the ranking query, so the top k are the best k the caller may read.
 *
 * @example
 * const { results } = await retrieval.search(principal, { query: 'claims deadline', k: 5 });
 */
export class RetrievalService {
  readonly assembler: ContextAssembler;

  constructor(
    private readonly db: Database,
    private readonly sources: SourceService,
  ) {
    this.assembler = new ContextAssembler(this, sources);
  }

  /** Assembles context from a recipe as the caller (or, for admins, as `as`). */
  async assemble(principal: Principal, recipe: ContextRecipeInput, request: { query: string; inputs?: Record<string, string>; as?: string }): Promise<AssembledContext> {
    const identity = await this.identityOf(principal, request.as);
    return this.assembler.assemble(identity, recipe, request);
  }

  /** The identity a search runs as: the caller, or (admins only) the user named by `as`. */
  async identityOf(principal: Principal, as?: string): Promise<SearchIdentity> {
    if (as !== undefined) {
      if (!principal.isAdmin) throw new TarmacError('forbidden', 'searching as another user needs a platform admin');
      const user = await repo.principalsOfUser(this.db, as);
      if (!user) throw new TarmacError('not_found', `user ${as} does not exist`, { user: as });
      return { label: `user:${user.email}`, principals: user.principals };
    }
    if (principal.userId) {
      const user = await repo.principalsOfUser(this.db, principal.userId);
      if (user) return { label: `user:${user.email}`, principals: user.principals };
    }
    if (principal.teamId) return { label: `team:${principal.teamId}`, principals: await repo.principalsOfTeam(this.db, principal.teamId) };
    return { label: 'anonymous', principals: ['*'] };
  }

  /** Resolves source names or ids to ids; an unknown source is an error, not an empty result. */
  private async sourceIds(refs: string[] | undefined): Promise<string[] | undefined> {
    if (!refs) return undefined;
    const ids: string[] = [];
    for (const ref of refs) {
      const row = await this.sources.byRef(ref);
      if (!row) throw new TarmacError('not_found', `source ${ref} does not exist`, { source: ref });
      ids.push(row.id);
    }
    return ids;
  }

  /** Searches as an identity already resolved (context assembly, benchmarks). */
  async searchAs(identity: SearchIdentity, input: Omit<SearchInput, 'as'>): Promise<SearchHit[]> {
    const query = input.query.trim();
    if (query === '') throw new TarmacError('validation_failed', 'the query is empty');
    const rows = await repo.lexicalSearch(this.db, query, input.k ?? 10, {
      principals: identity.principals,
      sourceIds: await this.sourceIds(input.sources),
      metadata: input.metadata,
    });
    return rows.map(hitView);
  }

  async search(principal: Principal, input: SearchInput): Promise<SearchResult> {
    const identity = await this.identityOf(principal, input.as);
    const results = await this.searchAs(identity, input);
    return { query: input.query, as: identity.label, mode: 'lexical', results };
  }
}
