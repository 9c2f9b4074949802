import { describe, expect, it } from 'vitest';
import { PromptContent } from './prompts.schema.js';
import { checkTemplates, renderMessages, templateVariables } from './template.js';

const content = PromptContent.parse({
  messages: [
    { role: 'system', content: 'You answer for {{team}}. Cite sources.' },
    { role: 'user', content: 'Question: {{question}}\n{{#tags}}- {{.}}\n{{/tags}}{{#strict}}Answer only from context.{{/strict}} Max {{limit}}.' },
  ],
  variables: {
    team: { type: 'string' },
    question: { type: 'string' },
    tags: { type: 'string_list', required: false },
    strict: { type: 'boolean' },
    limit: { type: 'number' },
  },
});

describe('prompt templates', () => {
  it('finds the variables a template uses', () => {
    expect([...templateVariables('Hi {{name}}, {{#items}}{{.}}{{/items}} {{{raw}}} {{^none}}x{{/none}} {{a.b}}')].sort()).toEqual(['a', 'items', 'name', 'none', 'raw']);
  });

  it('renders typed variables verbatim, lists and conditionals included', () => {
    const messages = renderMessages(content, { team: 'R&D <west>', question: 'Roof age > 20?', tags: ['home', 'roof'], strict: true, limit: 3 });
    expect(messages).toEqual([
      { role: 'system', content: 'You answer for R&D <west>. Cite sources.' },
      { role: 'user', content: 'Question: Roof age > 20?\n- home\n- roof\nAnswer only from context. Max 3.' },
    ]);
  });

  it('names every missing, ill-typed or unknown variable', () => {
    let error: unknown;
    try {
      renderMessages(content, { team: 'x', question: 42, strict: 'yes', extra: 1 });
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'prompt_variables_invalid' });
    const paths = (error as { details: { issues: { path: string; message: string }[] } }).details.issues;
    expect(paths.map((i) => i.path).sort()).toEqual(['extra', 'limit', 'question', 'strict']);
    expect(paths.find((i) => i.path === 'limit')!.message).toBe('required');
    // optional variables may be left out
    expect(() => renderMessages(content, { team: 'x', question: 'q', strict: false, limit: 1 })).not.toThrow();
  });

  it('refuses templates that use undeclared variables or do not parse', () => {
    const bad = PromptContent.parse({ messages: [{ role: 'user', content: 'Hello {{who}}' }, { role: 'user', content: '{{#open}} never closed' }], variables: {} });
    const issues = checkTemplates(bad);
    expect(issues).toEqual([
      { path: 'messages[0].content', message: 'uses undeclared variable who' },
      expect.objectContaining({ path: 'messages[1].content', message: expect.stringMatching(/does not parse/) }),
    ]);
  });
});
