// The admission estimate must not fall below the tokenizer's count for the text requests carry: English prose,
// tables, code, JSON, non-Latin scripts.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { boundMessageTokens, boundTextTokens, countTextTokens, estimateMessageTokens } from './tokens.js';

function textFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return textFiles(file);
    return /\.(md|csv|html|txt|yaml|jsonl)$/.test(name) ? [file] : [];
  });
}

const samples: Record<string, string> = {
  code: readFileSync(new URL('./tokens.ts', import.meta.url), 'utf8'),
  json: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Summarise claim 4471-B' }], temperature: 0.2, tools: [{ type: 'function' }] }),
  german: 'Die Dachdeckung eines Wohngebäudes älter als zwanzig Jahre erfordert vor Vertragsabschluss eine Begutachtung.',
  chinese: '屋顶使用超过二十年的住宅在签订标准房主保险之前需要进行检查。',
  japanese: '屋根の築年数が二十年を超える住宅は、標準的な住宅保険の契約前に点検が必要です。',
  russian: 'Крыша жилого дома старше двадцати лет требует осмотра до заключения стандартного договора.',
  arabic: 'يتطلب السقف الذي يزيد عمره عن عشرين عامًا فحصًا قبل إبرام وثيقة التأمين القياسية.',
  numbers: '4111 1111 1111 1111; 2026-11-22T03:17:00Z; 192.168.0.1; +44 20 7946 0958; 0.000034 USD',
};

describe('admission token estimate', () => {
  it('is at least the tokenizer count for every demo document and for code, JSON and other scripts', () => {
    const files = textFiles(new URL('../../examples', import.meta.url).pathname);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expect(boundTextTokens(text), file).toBeGreaterThanOrEqual(countTextTokens(text));
    }
    for (const [name, text] of Object.entries(samples)) expect(boundTextTokens(text), name).toBeGreaterThanOrEqual(countTextTokens(text));
  });

  it('bounds a message list with its framing and tool calls, and stays within about twice the count for English', () => {
    const messages = [
      { role: 'system' as const, content: 'You answer from the underwriting guide only.' },
      { role: 'user' as const, content: readFileSync(new URL('../../examples/README.md', import.meta.url), 'utf8') },
      { role: 'assistant' as const, content: null, tool_calls: [{ id: 'c1', type: 'function' as const, function: { name: 'lookup', arguments: '{"policy":"HO-3"}' } }] },
    ];
    const exact = estimateMessageTokens(messages);
    const bound = boundMessageTokens(messages);
    expect(bound).toBeGreaterThanOrEqual(exact);
    expect(bound).toBeLessThan(exact * 2);
  });
});

describe('token count by paragraph', () => {
  it('equals the tokenizer count of the whole text, for documents, code and the line-break cases pieces may cross', () => {
    const files = textFiles(new URL('../../examples', import.meta.url).pathname);
    const line = 'The roof of a dwelling older than twenty years needs an inspection';
    const tricky = [
      `${line}.\n\n${line}.\n${line}:\n/path/to/file\n\n/etc ${line}`,
      `${line}!!\r\n\r\n${line}\n\n\n  indented ${line}\n\t${line}\n`,
      `${line}\n\n\n`,
      `\n\n${line}\n 42 ${line}\n42\n-- ${line} --\n\n` + '\u00e9t\u00e9 '.repeat(20),
      Object.values(samples).join('\n\n'),
    ];
    for (const text of [...files.map((f) => readFileSync(f, 'utf8')), ...Object.values(samples), ...tricky]) {
      expect(countTextTokens(text), text.slice(0, 60)).toBe(countTokens(text));
      expect(countTextTokens(text), 'counted again from the memo').toBe(countTokens(text));
    }
  });
});
