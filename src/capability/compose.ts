import type { FastifyInstance } from 'fastify';
import type { Principal } from '../access/index.js';
import type { JobRunner } from '../jobs/index.js';
import type { Capability, Job, Listed, Need, OptionsOfCapability, RouteContext, ServerMetrics, ServicesOf, Shared } from './capability.js';

/** Any capability, as a list holds it. */
export type AnyCapability = Capability<string, unknown, readonly Need[], unknown>;

/** What a caller may set for each capability of a list, by name. */
export type OptionsOf<L extends readonly AnyCapability[]> = { [C in L[number] as C['name']]?: OptionsOfCapability<C> };

/** The built capabilities, as the server, the job runner and shutdown use them. */
export interface Registry {
  /** Capability names, in build order. */
  readonly names: readonly string[];
  /** The `tarmac.yaml` sections the capabilities declare, in build order. */
  readonly sections: readonly string[];
  routes(app: FastifyInstance, context: RouteContext): void;
  metrics(metrics: ServerMetrics): void;
  authenticate(token: string): Promise<Principal>;
  jobs(runner: JobRunner): Job[];
  start(runner: JobRunner): Promise<void>;
  /** Runs every close hook, last built first; throws the first failure once all have run. */
  close(): Promise<void>;
}

export interface Composed<L extends readonly AnyCapability[]> {
  services: ServicesOf<L>;
  registry: Registry;
}

interface Built {
  capability: AnyCapability;
  service: unknown;
  deps: Shared & Listed & Record<string, unknown>;
}

/** Checks a list before anything is built: unique names and sections, every need built earlier. */
export function checkCapabilities(list: readonly AnyCapability[]): void {
  const names = new Set<string>();
  const sections = new Map<string, string>();
  for (const capability of list) {
    if (names.has(capability.name)) throw new Error(`capability ${capability.name} is listed twice`);
    for (const need of capability.needs) {
      if (!names.has(need.name)) throw new Error(`capability ${capability.name} needs ${need.name}, which is not listed before it: put ${need.name} earlier in the list`);
    }
    names.add(capability.name);
    for (const section of capability.workspace) {
      const owner = sections.get(section);
      if (owner !== undefined) throw new Error(`tarmac.yaml section ${section} is declared by both ${owner} and ${capability.name}`);
      sections.set(section, capability.name);
    }
  }
}

async function closeAll(built: readonly Built[]): Promise<void> {
  let failure: { err: unknown } | null = null;
  for (const { capability, service } of [...built].reverse()) {
    try {
      await capability.close?.(service);
    } catch (err) {
      failure ??= { err };
    }
  }
  if (failure) throw failure.err;
}

/**
 * Builds a list of capabilities in order, each from the shared dependencies and the services it needs.
 * A build that fails closes what was built before it.
 *
 * @example
 * const { services, registry } = await composeCapabilities([audit, identity], shared, {});
 */
export async function composeCapabilities<const L extends readonly AnyCapability[]>(list: L, shared: Shared, options: OptionsOf<L>): Promise<Composed<L>> {
  checkCapabilities(list);
  const given: Partial<Record<string, unknown>> = options;
  const services: Record<string, unknown> = {};
  const built: Built[] = [];
  const sections = list.flatMap((c) => c.workspace);
  try {
    for (const capability of list) {
      const deps: Shared & Listed & Record<string, unknown> = { ...shared, sections };
      for (const need of capability.needs) deps[need.name] = services[need.name];
      const service = await capability.build(deps, given[capability.name]);
      services[capability.name] = service;
      built.push({ capability, service, deps });
    }
  } catch (err) {
    await closeAll(built).catch(() => undefined);
    throw err;
  }
  const registry: Registry = {
    names: list.map((c) => c.name),
    sections,
    routes: (app, context) => {
      for (const { capability, service } of built) capability.routes?.(app, service, context);
    },
    metrics: (metrics) => {
      for (const { capability, service } of built) capability.metrics?.(service, metrics);
    },
    authenticate: (() => {
      const by = built.filter((b) => b.capability.authenticate !== undefined);
      if (by.length > 1) throw new Error(`capabilities ${by.map((b) => b.capability.name).join(', ')} all authenticate; one may`);
      const one = by[0];
      return async (token: string) => {
        if (!one?.capability.authenticate) throw new Error('no capability authenticates bearer tokens');
        return one.capability.authenticate(one.service, token);
      };
    })(),
    jobs: (runner) => built.flatMap(({ capability, service, deps }) => capability.jobs?.(service, { ...deps, runner }) ?? []),
    start: async (runner) => {
      for (const { capability, service, deps } of built) await capability.start?.(service, { ...deps, runner });
    },
    close: () => closeAll(built),
  };
  // The list's type says which service each name holds; the loop above built exactly those.
  return { services: services as ServicesOf<L>, registry };
}
