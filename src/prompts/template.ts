import Mustache from 'mustache';
import { z } from 'zod';
import { formatPath, TarmacError, type FieldIssue } from '../errors/index.js';
import type { PromptContent, PromptMessage, VariableSpec } from './prompts.schema.js';

type Token = [string, string, number, number, Token[]?];

function namesIn(tokens: Token[], out: Set<string>): void {
  for (const token of tokens) {
    const [kind, name, , , children] = token;
    // name, &unescaped, {triple}, #section, ^inverted; `.` is the current list item, not a variable
    if (['name', '&', '{', '#', '^'].includes(kind) && name !== '.') out.add(name.split('.')[0] ?? name);
    if (children) namesIn(children, out);
  }
}

/** Variable names a template refers to (the first segment of dotted names). */
export function templateVariables(template: string): Set<string> {
  const out = new Set<string>();
  namesIn(Mustache.parse(template) as Token[], out);
  return out;
}

/**
 * Checks that a version's templates parse and refer only to declared variables. Returns the problems with
 * the path of the message they are in.
 */
export function checkTemplates(content: PromptContent): FieldIssue[] {
  const issues: FieldIssue[] = [];
  content.messages.forEach((message, i) => {
    let names: Set<string>;
    try {
      names = templateVariables(message.content);
    } catch (err) {
      issues.push({ path: formatPath(['messages', i, 'content']), message: `template does not parse: ${(err as Error).message}` });
      return;
    }
    for (const name of names) {
      if (!(name in content.variables)) issues.push({ path: formatPath(['messages', i, 'content']), message: `uses undeclared variable ${name}` });
    }
  });
  return issues;
}

function variableSchema(spec: VariableSpec): z.ZodType {
  const base =
    spec.type === 'string' ? z.string() : spec.type === 'number' ? z.number() : spec.type === 'boolean' ? z.boolean() : z.array(z.string());
  return spec.required ? base : base.optional();
}

// A version's variables never change (versions are immutable), and building a schema costs more than using it:
// the schema is kept for as long as the variables object it was built from.
const schemas = new WeakMap<PromptContent['variables'], z.ZodType>();

function variablesSchema(specs: PromptContent['variables']): z.ZodType {
  let schema = schemas.get(specs);
  if (!schema) {
    const shape: Record<string, z.ZodType> = {};
    for (const [name, spec] of Object.entries(specs)) shape[name] = variableSchema(spec);
    schema = z.strictObject(shape);
    schemas.set(specs, schema);
  }
  return schema;
}

/**
 * Renders a version's messages with `variables`. A missing required variable, a value of the wrong type or an
 * undeclared variable fails with `prompt_variables_invalid` naming each one. Values are inserted verbatim
 * (no HTML escaping): prompts are not HTML.
 *
 * @example
 * renderMessages(content, { question: 'What is the maximum roof age?' });
 */
export function renderMessages(content: PromptContent, variables: Record<string, unknown>): PromptMessage[] {
  const result = variablesSchema(content.variables).safeParse(variables);
  if (!result.success) {
    const issues = result.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((k) => ({ path: k, message: 'not a variable of this prompt' }))
        : [{ path: formatPath(issue.path), message: issue.path.length === 1 && issue.code === 'invalid_type' && variables[String(issue.path[0])] === undefined ? 'required' : issue.message }],
    );
    throw new TarmacError('prompt_variables_invalid', `prompt variables invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
  }
  const view = result.data as Record<string, unknown>;
  return content.messages.map((m) => ({
    role: m.role,
    content: Mustache.render(m.content, view, {}, { escape: (value: unknown) => String(value) }),
  }));
}
