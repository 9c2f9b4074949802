import { parse as parseCsv } from 'csv-parse/sync';
import { TarmacError } from '../errors/index.js';
import { decodeText, type TextEncoding } from './encoding.js';

/** One structural unit of a parsed document. */
export interface Block {
  kind: 'heading' | 'paragraph' | 'list_item' | 'table_row' | 'code';
  text: string;
  /** Heading level (1 = top). */
  level?: number;
  /** For a table row: the header line it belongs to, repeated in every chunk that holds the row. */
  header?: string;
}

/** A parsed document: its plain text and its blocks, each block's text found in `text` in order. */
export interface ParsedDocument {
  format: DocumentFormat;
  text: string;
  blocks: Block[];
  encoding?: TextEncoding;
  /** Title found in the content (first heading), if any. */
  title?: string;
}

export const DOCUMENT_FORMATS = ['pdf', 'docx', 'html', 'markdown', 'text', 'csv', 'json'] as const;
export type DocumentFormat = (typeof DOCUMENT_FORMATS)[number];

const EXTENSIONS: Record<string, DocumentFormat> = {
  pdf: 'pdf',
  docx: 'docx',
  html: 'html',
  htm: 'html',
  md: 'markdown',
  markdown: 'markdown',
  txt: 'text',
  text: 'text',
  csv: 'csv',
  json: 'json',
};

const MEDIA_TYPES: Record<string, DocumentFormat> = {
  'application/pdf': 'pdf',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'text/html': 'html',
  'text/markdown': 'markdown',
  'text/plain': 'text',
  'text/csv': 'csv',
  'application/json': 'json',
};

/** The format of a file from its media type or name; plain text when neither says. */
export function formatOf(name: string | undefined, mediaType?: string): DocumentFormat {
  const media = mediaType?.split(';')[0]?.trim().toLowerCase();
  if (media && MEDIA_TYPES[media]) return MEDIA_TYPES[media];
  const ext = name?.toLowerCase().split('.').pop();
  if (ext && EXTENSIONS[ext]) return EXTENSIONS[ext];
  if (media && !media.startsWith('text/')) throw new TarmacError('validation_failed', `unsupported media type ${media}`);
  return 'text';
}

const fail = (reason: string): never => {
  throw new TarmacError('document_unparseable', reason);
};

/** Splits markdown (or any plain text) into headings, list items, table rows, code and paragraphs. */
export function markdownBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split(/\r?\n/);
  let para: string[] = [];
  let tableHeader: string | undefined;
  const flush = () => {
    if (para.length > 0) blocks.push({ kind: 'paragraph', text: para.join('\n') });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const trimmed = line.trim();
    if (trimmed.startsWith('```')) {
      flush();
      const code = [line];
      while (++i < lines.length && !lines[i]!.trim().startsWith('```')) code.push(lines[i]!);
      if (i < lines.length) code.push(lines[i]!);
      blocks.push({ kind: 'code', text: code.join('\n') });
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(trimmed);
    if (heading) {
      flush();
      blocks.push({ kind: 'heading', text: trimmed, level: heading[1]!.length });
      continue;
    }
    if (trimmed.startsWith('|') && trimmed.endsWith('|') && trimmed.length > 1) {
      flush();
      if (/^\|[\s|:-]+\|$/.test(trimmed)) continue;
      if (tableHeader === undefined) tableHeader = trimmed;
      else blocks.push({ kind: 'table_row', text: trimmed, header: tableHeader });
      continue;
    }
    tableHeader = undefined;
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      flush();
      blocks.push({ kind: 'list_item', text: trimmed });
      continue;
    }
    if (trimmed === '') flush();
    else para.push(trimmed);
  }
  flush();
  return blocks;
}

/** Joins blocks into the document text; each block's text appears at a known offset. */
function fromBlocks(format: DocumentFormat, blocks: Block[], extra: Partial<ParsedDocument> = {}): ParsedDocument {
  const nonEmpty = blocks.filter((b) => b.text.trim() !== '');
  const title = nonEmpty.find((b) => b.kind === 'heading')?.text.replace(/^#+\s*/, '');
  return { format, text: nonEmpty.map((b) => b.text).join('\n\n'), blocks: nonEmpty, ...(title ? { title } : {}), ...extra };
}

const headingFormatter =
  (level: number) =>
  (elem: { children?: unknown[] }, walk: (nodes: unknown[] | undefined, builder: unknown) => void, builder: { openBlock: (o: object) => void; addInline: (s: string) => void; closeBlock: (o: object) => void }) => {
    builder.openBlock({ leadingLineBreaks: 2 });
    builder.addInline(`${'#'.repeat(level)} `);
    walk(elem.children, builder);
    builder.closeBlock({ trailingLineBreaks: 2 });
  };

/** HTML to markdown-like text (headings as `#`, list items as `*`), then to blocks. */
export async function htmlBlocks(html: string): Promise<Block[]> {
  // Loaded on first use, like the PDF and DOCX readers: most commands never parse HTML.
  const { convert: htmlToText } = await import('html-to-text');
  const levels = [1, 2, 3, 4, 5, 6];
  const text = htmlToText(html, {
    wordwrap: false,
    formatters: Object.fromEntries(levels.map((l) => [`h${l}`, headingFormatter(l)])) as never,
    selectors: [
      ...levels.map((l) => ({ selector: `h${l}`, format: `h${l}` })),
      { selector: 'a', options: { ignoreHref: true } },
      { selector: 'img', format: 'skip' },
      { selector: 'ul', options: { itemPrefix: ' * ' } },
      { selector: 'table', format: 'dataTable' },
    ],
  });
  return markdownBlocks(text);
}

function csvBlocks(text: string): Block[] {
  let rows: string[][];
  try {
    const parsed: unknown = parseCsv(text, { relax_column_count: true, relax_quotes: true, skip_empty_lines: true, bom: true });
    rows = parsed as string[][];
  } catch (err) {
    return fail(`invalid CSV: ${(err as Error).message}`);
  }
  const [header, ...body] = rows;
  if (!header) return [];
  const head = header.join(' | ');
  return body.map((row) => ({
    kind: 'table_row' as const,
    text: row.map((v, i) => `${header[i] ?? `column ${i + 1}`}: ${v}`).join(' | '),
    header: head,
  }));
}

function jsonBlocks(text: string): Block[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail(`invalid JSON: ${(err as Error).message}`);
  }
  const blocks: Block[] = [];
  const walk = (v: unknown, path: string) => {
    if (v !== null && typeof v === 'object') {
      const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
      for (const [k, x] of entries) walk(x, path ? `${path}.${k}` : k);
    } else if (v !== null && v !== '') {
      const shown = typeof v === 'string' ? v : JSON.stringify(v);
      blocks.push({ kind: 'paragraph', text: path ? `${path}: ${shown}` : shown });
    }
  };
  walk(value, '');
  return blocks;
}

async function pdfBlocks(bytes: Uint8Array): Promise<Block[]> {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  let doc;
  try {
    doc = await pdfjs.getDocument({ data: new Uint8Array(bytes), isEvalSupported: false, useSystemFonts: false, verbosity: 0 }).promise;
  } catch (err) {
    return fail(`not a readable PDF: ${(err as Error).message}`);
  }
  const blocks: Block[] = [];
  try {
    for (let p = 1; p <= doc.numPages; p++) {
      const page = await doc.getPage(p);
      const content = await page.getTextContent();
      let line = '';
      const lines: string[] = [];
      for (const item of content.items) {
        if (!('str' in item)) continue;
        line += item.str;
        if (item.hasEOL) {
          lines.push(line);
          line = '';
        }
      }
      if (line) lines.push(line);
      const pageText = lines.join('\n');
      for (const block of markdownBlocks(pageText)) blocks.push(block);
    }
  } finally {
    await doc.destroy();
  }
  return blocks;
}

/**
 * Parses one document's bytes into text and structural blocks. A file that cannot be parsed throws
 * `document_unparseable` with the reason; the caller marks that document failed and goes on.
 *
 * @example
 * const doc = await parseDocument(readFileSync('policy.pdf'), 'pdf');
 * doc.blocks[0] // { kind: 'paragraph', text: 'Claims must be filed within 30 days.' }
 */
export async function parseDocument(bytes: Uint8Array, format: DocumentFormat): Promise<ParsedDocument> {
  if (bytes.length === 0) return fail('the file is empty');
  if (format === 'pdf') {
    if (!Buffer.from(bytes.subarray(0, 1024)).toString('latin1').includes('%PDF-')) fail('not a PDF: no %PDF- header');
    return fromBlocks('pdf', await pdfBlocks(bytes));
  }
  if (format === 'docx') {
    if (bytes[0] !== 0x50 || bytes[1] !== 0x4b) fail('not a DOCX: not a zip archive');
    let html: string;
    try {
      const mammoth = (await import('mammoth')).default;
      html = (await mammoth.convertToHtml({ buffer: Buffer.from(bytes) })).value;
    } catch (err) {
      return fail(`not a readable DOCX: ${(err as Error).message}`);
    }
    return fromBlocks('docx', await htmlBlocks(html));
  }
  const { text, encoding } = decodeText(bytes);
  if (text.includes('\u0000')) fail('binary content: the text holds NUL characters');
  const blocks =
    format === 'html' ? await htmlBlocks(text) : format === 'csv' ? csvBlocks(text) : format === 'json' ? jsonBlocks(text) : markdownBlocks(text);
  return fromBlocks(format, blocks, { encoding });
}
