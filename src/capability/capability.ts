import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Principal } from '../access/index.js';
import type { Config } from '../config/index.js';
import type { Database } from '../db/index.js';
import type { JobRunner, QueueName, QueuePayload } from '../jobs/index.js';

/** What every capability is built from, whichever process builds it. */
export interface Shared {
  config: Config;
  db: Database;
  logger: Logger;
  /** The folder of an embedded database on disk, where local files go beside it; null on PostgreSQL or in memory. */
  localDir: string | null;
  /** True in `tarmac serve`: state only a long-lived server keeps (the key cache, embedding at start). */
  serving: boolean;
}

/** One background queue's worker, and its cron schedule if it has one. */
export interface JobOf<Q extends QueueName> {
  queue: Q;
  work(payload: QueuePayload<Q>): Promise<void>;
  schedule?: { cron: string; payload: QueuePayload<Q> };
}
export type Job = { [Q in QueueName]: JobOf<Q> }[QueueName];

/** What routes are registered with, besides the capability's own service. */
export interface RouteContext {
  db: Database;
  bodyLimit: number;
  maxDocumentBytes: number;
}

/** Freshness and counts of one source, as `/metrics` exports them. */
export interface SourceGauge {
  name: string;
  lagSeconds: number | null;
  stale: boolean;
  documents: Record<string, number>;
  chunks: number;
  /** Chunks waiting for their embedding; null without vector search. */
  embeddingsPending: number | null;
}

/** The server's metrics that capabilities feed. */
export interface ServerMetrics {
  addSourceGauges(read: () => Promise<SourceGauge[]>): void;
  retrievalFallback(reason: string): void;
}

/** The background side of a capability in `tarmac serve`. */
export interface JobContext {
  runner: JobRunner;
}

/** A capability whose service is of type `S`, named `N`. */
export interface Need<N extends string = string, S = unknown> {
  readonly name: N;
  /** Phantom: carries the service type; never set. */
  readonly service?: S;
}

/** The services of a list of capabilities, by name: `ServicesOf<[typeof runs]>` is `{ runs: RunService }`. */
export type ServicesOf<L extends readonly Need[]> = { [C in L[number] as C['name']]: C extends Need<string, infer S> ? S : never };

/** What composing a list adds for every capability of it. */
export interface Listed {
  /** The `tarmac.yaml` sections the listed capabilities declare, in list order. */
  sections: readonly string[];
}

/** What a capability's build and hooks receive: the shared dependencies, the list's sections, the services it needs. */
export type DepsOf<Needs extends readonly Need[]> = Shared & Listed & ServicesOf<Needs>;

/**
 * A capability: how to build its service from the shared dependencies and the services it needs, and what
 * the server, the job runner and `tarmac apply` take from it.
 */
export interface Capability<N extends string, S, Needs extends readonly Need[], O> extends Need<N, S> {
  readonly needs: Needs;
  /** Names of the `tarmac.yaml` sections this capability's state is declared in. */
  readonly workspace: readonly string[];
  /** `options` are what a caller sets beyond the config (the installation's audit keys; in tests clocks, timings). */
  build(deps: DepsOf<Needs>, options: O | undefined): S | Promise<S>;
  routes?(app: FastifyInstance, service: S, context: RouteContext): void;
  metrics?(service: S, metrics: ServerMetrics): void;
  /** Turns a bearer token into a principal; exactly one capability of a list does. */
  authenticate?(service: S, token: string): Promise<Principal>;
  jobs?(service: S, deps: DepsOf<Needs> & JobContext): readonly Job[];
  /** Runs in `tarmac serve` once the workers are registered. */
  start?(service: S, deps: DepsOf<Needs> & JobContext): void | Promise<void>;
  /** Finishes background work; called before the database closes, in reverse build order. */
  close?(service: S): Promise<void>;
}

/** The options a capability's build takes. */
export type OptionsOfCapability<C> = C extends { build(deps: never, options: infer O): unknown } ? Exclude<O, undefined> : never;

/**
 * Declares a capability. `needs` lists the capabilities whose services `build` receives (by their names).
 *
 * @example
 * export const capability = defineCapability({
 *   name: 'review',
 *   needs: [audit],
 *   build: ({ db, audit }, options?: ReviewOptions) => new ReviewService(db, audit, options),
 *   routes: (app, review) => registerReviewRoutes(app, review),
 * });
 */
export function defineCapability<const N extends string, S, const Needs extends readonly Need[], O = undefined>(
  spec: Omit<Capability<N, S, Needs, O>, 'workspace'> & { workspace?: readonly string[] },
): Capability<N, S, Needs, O> {
  return { ...spec, workspace: spec.workspace ?? [] };
}
