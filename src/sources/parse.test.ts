import { describe, expect, it } from 'vitest';
import { buildDocx, buildPdf } from '../../tests/support/files.js';
import { chunkDocument } from './chunk.js';
import { loadTokenizer } from './tokens.js';
import { decodeText } from './encoding.js';
import { formatOf, parseDocument } from './parse.js';

describe('parsers on real files', () => {
  it('reads the text of a PDF', async () => {
    const doc = await parseDocument(buildPdf(['Claims policy', 'Claims must be filed within thirty days.']), 'pdf');
    expect(doc.text).toContain('Claims must be filed within thirty days.');
    expect(doc.text).toContain('Claims policy');
  });

  it('reads headings, paragraphs and list items of a DOCX', async () => {
    const doc = await parseDocument(buildDocx('Leave', ['Twenty days a year.'], ['Ask your manager', 'Book in the portal']), 'docx');
    expect(doc.blocks[0]).toMatchObject({ kind: 'heading', text: '# Leave', level: 1 });
    expect(doc.text).toContain('Twenty days a year.');
    expect(doc.text).toContain('Book in the portal');
    expect(doc.title).toBe('Leave');
  });

  it('reads HTML with its headings and lists, without scripts or tags', async () => {
    const html = '<html><head><title>x</title><script>var a = 1;</script></head><body><h1>Travel</h1><p>Book <b>economy</b>.</p><h2>Hotels</h2><ul><li>Up to 150 EUR</li><li>Breakfast included</li></ul></body></html>';
    const doc = await parseDocument(Buffer.from(html), 'html');
    const kinds = doc.blocks.map((b) => b.kind);
    expect(kinds).toEqual(['heading', 'paragraph', 'heading', 'list_item', 'list_item']);
    expect(doc.text).not.toContain('var a');
    expect(doc.text).not.toContain('<b>');
  });

  it('reads markdown structure: headings, lists, tables with their header, code', async () => {
    const md = '# Guide\n\nIntro text.\n\n## Table\n\n| plan | price |\n| --- | --- |\n| basic | 10 |\n| pro | 20 |\n\n- one\n- two\n\n```\ncode here\n```\n';
    const doc = await parseDocument(Buffer.from(md), 'markdown');
    expect(doc.blocks.map((b) => b.kind)).toEqual(['heading', 'paragraph', 'heading', 'table_row', 'table_row', 'list_item', 'list_item', 'code']);
    expect(doc.blocks[3]).toMatchObject({ text: '| basic | 10 |', header: '| plan | price |' });
  });

  it('reads CSV rows with their header, ragged rows included', async () => {
    const doc = await parseDocument(Buffer.from('name,age\nAda,36\nAlan,41,extra\nGrace\n'), 'csv');
    expect(doc.blocks.map((b) => b.text)).toEqual(['name: Ada | age: 36', 'name: Alan | age: 41 | column 3: extra', 'name: Grace']);
  });

  it('reads JSON as path: value lines and rejects invalid JSON with the reason', async () => {
    const doc = await parseDocument(Buffer.from('{"policy": {"name": "Leave", "days": 20}}'), 'json');
    expect(doc.text).toBe('policy.name: Leave\n\npolicy.days: 20');
    await expect(parseDocument(Buffer.from('{"a":'), 'json')).rejects.toMatchObject({ code: 'document_unparseable' });
  });

  it('rejects corrupt PDF and DOCX files and empty files with document_unparseable', async () => {
    await expect(parseDocument(Buffer.from('not a pdf at all'), 'pdf')).rejects.toMatchObject({ code: 'document_unparseable' });
    const truncated = buildPdf(['hello']).subarray(0, 60);
    await expect(parseDocument(truncated, 'pdf')).rejects.toMatchObject({ code: 'document_unparseable' });
    await expect(parseDocument(Buffer.from('PK\u0003\u0004broken'), 'docx')).rejects.toMatchObject({ code: 'document_unparseable' });
    await expect(parseDocument(Buffer.alloc(0), 'text')).rejects.toMatchObject({ code: 'document_unparseable', message: 'the file is empty' });
  });

  it('detects UTF-8, UTF-16 (with and without BOM) and Latin-1', () => {
    const text = 'Grüße, café';
    expect(decodeText(Buffer.from(text, 'utf8'))).toEqual({ text, encoding: 'utf-8' });
    expect(decodeText(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]))).toEqual({ text, encoding: 'utf-16le' });
    expect(decodeText(Buffer.from(text, 'utf16le'))).toEqual({ text, encoding: 'utf-16le' });
    const be = Buffer.from(text, 'utf16le').swap16();
    expect(decodeText(be)).toEqual({ text, encoding: 'utf-16be' });
    expect(decodeText(Buffer.from(text, 'latin1'))).toEqual({ text, encoding: 'latin1' });
  });

  it('chooses the format from the media type, then the file name', () => {
    expect(formatOf('a.PDF')).toBe('pdf');
    expect(formatOf('notes', 'text/markdown; charset=utf-8')).toBe('markdown');
    expect(formatOf('x.unknown')).toBe('text');
    expect(() => formatOf('x.bin', 'application/octet-stream')).toThrow(/unsupported media type/);
  });
});

describe('chunking', () => {
  const long = Array.from({ length: 30 }, (_, i) => `Sentence number ${i} says something about claims and policies.`).join(' ');

  it('keeps chunks within the token bound, with overlap, section paths and offsets into the text', async () => {
    const md = `# Claims\n\n${long}\n\n## Deadlines\n\nFile within thirty days.\n\n- first item\n- second item`;
    const doc = await parseDocument(Buffer.from(md), 'markdown');
    const chunks = await chunkDocument(doc, { maxTokens: 60, overlapTokens: 15 }, await loadTokenizer());
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) {
      expect(c.tokenCount).toBeLessThanOrEqual(60);
      expect(doc.text.slice(c.start, c.end).length).toBeGreaterThan(0);
    }
    expect(chunks[0]!.sectionPath).toEqual(['Claims']);
    const last = chunks[chunks.length - 1]!;
    expect(last.sectionPath).toEqual(['Claims', 'Deadlines']);
    expect(last.text).toContain('second item');
    expect(doc.text.slice(last.start, last.end)).toContain('File within thirty days.');
    // Overlap: consecutive chunks of the long paragraph share text.
    const [a, b] = [chunks[1]!, chunks[2]!];
    expect(b.start).toBeLessThan(a.end);
  });

  it('repeats the header of a table in every chunk that holds its rows', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => `| item ${i} | ${i * 10} EUR |`).join('\n');
    const doc = await parseDocument(Buffer.from(`| item | price |\n| --- | --- |\n${rows}`), 'markdown');
    const chunks = await chunkDocument(doc, { maxTokens: 50, overlapTokens: 0 }, await loadTokenizer());
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) expect(c.text.startsWith('| item | price |')).toBe(true);
  });

  it('cuts long unbroken runs into chunks within the bound whose text is their span of the document', async () => {
    for (const text of ['a'.repeat(20_000), '😀'.repeat(5000), 'a.'.repeat(10_000), `${'-'.repeat(3000)} ${'x'.repeat(3000)}`]) {
      const doc = await parseDocument(Buffer.from(text), 'text');
      const chunks = await chunkDocument(doc, { maxTokens: 50, overlapTokens: 10 }, await loadTokenizer());
      expect(chunks.length).toBeGreaterThan(3);
      for (const c of chunks) {
        expect(c.text).toBe(doc.text.slice(c.start, c.end));
        expect(c.tokenCount).toBeLessThanOrEqual(50);
      }
      expect(chunks[0]?.start).toBe(0);
      expect(chunks.at(-1)?.end).toBe(doc.text.length);
    }
  });
});
