import { hasScope, type Principal } from '../access/index.js';
import { ReadCache, type Database } from '../db/index.js';
import { principalsOfTeam, principalsOfUser } from '../identity/index.js';
import { TarmacError } from '../errors/index.js';
import { freshnessOf, type SourceService } from '../sources/index.js';
import { ContextAssembler, type ContextRecipeInput } from './context.service.js';
import type { AssembledContext, Retrieved, SearchHit, SearchMode, SearchResult } from './retrieval.schema.js';
import { lexicalSearch } from './lexical.repository.js';
import * as repo from './retrieval.repository.js';
import { EmbeddingsFailure, fuse, type EmbeddingsFailureReason, type VectorIndex } from './vector.service.js';


export interface SearchInput {
  query: string;
  k?: number | undefined;
  /** Source names or ids to search; default all. */
  sources?: string[] | undefined;
  /** Only chunks whose metadata contains these key/values. */
  metadata?: Record<string, unknown> | undefined;
  /** Search as this user (platform admins, and keys with the `act_as` scope); default the caller. */
  as?: string | undefined;
  /** Default: hybrid when vector search is available, else lexical. */
  mode?: SearchMode | undefined;
}


/** The start of the warning a search gives when it went lexical because the embeddings endpoint failed. */
export const LEXICAL_FALLBACK_WARNING = 'vector search unavailable, results are lexical only';

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
  // Who a user is for access control, kept until users, teams or memberships change (in any process).
  private readonly userPrincipals: ReadCache<Awaited<ReturnType<typeof principalsOfUser>>>;
  private readonly teamPrincipals: ReadCache<string[]>;
  private readonly fallbackListeners: ((reason: EmbeddingsFailureReason) => void)[] = [];

  constructor(
    private readonly db: Database,
    private readonly sources: SourceService,
    private readonly vectors: VectorIndex | null = null,
    /** Rank from the chunks themselves instead of the postings (the reference ranking tests compare to). */
    private readonly reference = false,
  ) {
    this.assembler = new ContextAssembler(this, sources);
    this.userPrincipals = new ReadCache(db, ['users', 'teams', 'team_members']);
    this.teamPrincipals = new ReadCache(db, ['teams']);
  }

  /**
   * Semantic similarity of two texts by the embedding provider; null when none is configured or it fails. It
   * needs the provider only, not vector storage in the database.
   */
  async similarity(a: string, b: string): Promise<number | null> {
    if (!this.vectors) return null;
    return this.vectors.similarity(a, b).catch(() => null);
  }

  /** The mode a search runs in: the one asked for, if available; by default hybrid when vectors are on. */
  async modeFor(asked: SearchMode | undefined): Promise<SearchMode> {
    const available = this.vectors !== null && (await this.vectors.enable());
    if (asked === undefined) return available ? 'hybrid' : 'lexical';
    if (asked !== 'lexical' && !available) {
      const why = this.vectors ? this.vectors.unavailableReason : 'no embedding provider is configured (TARMAC_EMBEDDINGS_URL)';
      throw new TarmacError('bad_request', `${asked} search is not available: ${why}`);
    }
    return asked;
  }

  /** Called each time a search goes lexical because the embeddings endpoint failed (metrics count them). */
  onFallback(listener: (reason: EmbeddingsFailureReason) => void): void {
    this.fallbackListeners.push(listener);
  }

  /** Stops background embedding (before the database closes). */
  async close(): Promise<void> {
    await this.vectors?.close();
  }

  /** Assembles context from a recipe as the caller (or, for admins and `act_as` keys, as `as`). */
  async assemble(principal: Principal, recipe: ContextRecipeInput, request: { query: string; inputs?: Record<string, string>; as?: string }): Promise<AssembledContext> {
    const identity = await this.identityOf(principal, request.as);
    return this.assembler.assemble(identity, recipe, request);
  }

  /**
   * The identity a search runs as: the caller, or the user named by `as` for platform admins and keys with the
   * `act_as` scope (which run use cases on behalf of their end users, and read as them).
   */
  async identityOf(principal: Principal, as?: string): Promise<SearchIdentity> {
    if (as !== undefined) {
      if (!principal.isAdmin && !hasScope(principal, 'act_as')) throw new TarmacError('forbidden', 'searching as another user needs a platform admin or a key with the act_as scope');
      const user = await this.userPrincipals.get(as, () => principalsOfUser(this.db, as));
      if (!user) throw new TarmacError('not_found', `user ${as} does not exist`, { user: as });
      return { label: `user:${user.email}`, principals: user.principals };
    }
    if (principal.userId) {
      const id = principal.userId;
      const user = await this.userPrincipals.get(id, () => principalsOfUser(this.db, id));
      if (user) return { label: `user:${user.email}`, principals: user.principals };
    }
    if (principal.teamId) return { label: `team:${principal.teamId}`, principals: await this.teamPrincipals.get(principal.teamId, () => principalsOfTeam(this.db, principal.teamId!)) };
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
    return (await this.retrieve(identity, input)).results;
  }

  /**
   * Searches as an identity, saying which ranking it used. Hybrid search (the default with vectors) goes
   * lexical with a warning when the query cannot be embedded; vector search alone fails then.
   */
  async retrieve(identity: SearchIdentity, input: Omit<SearchInput, 'as'>): Promise<Retrieved> {
    const query = input.query.trim();
    if (query === '') throw new TarmacError('validation_failed', 'the query is empty');
    const k = input.k ?? 10;
    const filter = { principals: identity.principals, sourceIds: await this.sourceIds(input.sources), metadata: input.metadata };
    const mode = await this.modeFor(input.mode);
    if (mode === 'lexical' || !this.vectors) return { mode: 'lexical', results: (await lexicalSearch(this.db, query, k, filter, this.reference)).map(hitView), warnings: [] };
    if (mode === 'vector') return { mode, results: await this.hydrate(await this.vectors.search(query, k, filter)), warnings: [] };
    // Hybrid: both rankings, each access-filtered before its own cut, fused by reciprocal rank.
    const depth = Math.max(50, k * 3);
    const [lexical, vector] = await Promise.all([
      lexicalSearch(this.db, query, depth, filter, this.reference),
      this.vectors.search(query, depth, filter).catch((err: unknown) => {
        if (err instanceof EmbeddingsFailure) return err;
        throw err;
      }),
    ]);
    if (vector instanceof EmbeddingsFailure) {
      for (const listener of this.fallbackListeners) listener(vector.reason);
      return { mode: 'lexical', results: lexical.slice(0, k).map(hitView), warnings: [`${LEXICAL_FALLBACK_WARNING}: ${vector.message}`] };
    }
    return { mode, results: await this.hydrate(fuse([lexical.map((r) => Number(r.id)), vector.map((r) => r.id)]).slice(0, k)), warnings: [] };
  }

  private async hydrate(ranked: { id: number; score: number }[]): Promise<SearchHit[]> {
    const rows = new Map((await repo.hitsById(this.db, ranked.map((r) => r.id))).map((r) => [Number(r.id), r]));
    return ranked.flatMap((r) => {
      const row = rows.get(r.id);
      return row ? [hitView({ ...row, score: r.score })] : [];
    });
  }

  async search(principal: Principal, input: SearchInput): Promise<SearchResult> {
    const identity = await this.identityOf(principal, input.as);
    const { mode, results, warnings } = await this.retrieve(identity, input);
    return { query: input.query, as: identity.label, mode, results, warnings };
  }
}
