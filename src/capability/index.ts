/**
 * The capability manifest: each capability folder exports one `capability`, saying how its service is built
 * from the shared dependencies and the services it needs, and what it brings to the server (routes, metrics,
 * authentication), to `tarmac serve` (jobs, schedules, start, close) and to `tarmac.yaml` (its sections).
 * `app` composes the list; the server, the job runner and the test harness read it.
 *
 * @example
 * export const capability = defineCapability({
 *   name: 'prompts',
 *   needs: [audit],
 *   workspace: ['prompts'],
 *   build: ({ db, audit }) => new PromptService(db, audit),
 *   routes: (app, prompts) => registerPromptRoutes(app, prompts),
 * });
 */
export {
  defineCapability,
  type Capability,
  type DepsOf,
  type Job,
  type JobContext,
  type JobOf,
  type Listed,
  type Need,
  type OptionsOfCapability,
  type RouteContext,
  type ServerMetrics,
  type ServicesOf,
  type Shared,
  type SourceGauge,
} from './capability.js';
export { checkCapabilities, composeCapabilities, type AnyCapability, type Composed, type OptionsOf, type Registry } from './compose.js';
