import { capability as audit } from '../audit/index.js';
import { capability as evals } from '../evals/index.js';
import type { OptionsOf, ServicesOf } from '../capability/index.js';
import { capability as gateway } from '../gateway/index.js';
import { capability as identity } from '../identity/index.js';
import { capability as policies } from '../policies/index.js';
import { capability as prompts } from '../prompts/index.js';
import { capability as retrieval } from '../retrieval/index.js';
import { capability as review } from '../review/index.js';
import { capability as runs } from '../runs/index.js';
import { capability as sources } from '../sources/index.js';
import { capability as usecases } from '../usecases/index.js';
import { capability as workspace } from '../workspace/index.js';

/**
 * Every capability of Tarmac, in build order (each after what it needs). Adding a capability is its folder
 * and one line here.
 */
export const CAPABILITIES = [audit, identity, policies, prompts, usecases, sources, retrieval, gateway, workspace, review, runs, evals] as const;

/** The service of each capability, by name. */
export type CapabilityServices = ServicesOf<typeof CAPABILITIES>;
/** What a caller may set for each capability (the test harness: clocks, timings, an embeddings endpoint). */
export type CapabilityOptions = OptionsOf<typeof CAPABILITIES>;
