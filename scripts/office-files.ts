// Renders simple structured documents into real PDF and DOCX files: hand-written PDF objects with text
// operators (so a PDF parser extracts the text) and an Office Open XML zip, both byte-for-byte repeatable.
import { strToU8, zipSync } from 'fflate';

/** One structural unit of a document to render. */
export type DocBlock =
  | { kind: 'heading'; level: 1 | 2 | 3; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'bullet'; text: string }
  | { kind: 'table'; rows: string[][] };

/**
 * Reads the small Markdown subset the demo documents are written in: `#`/`##`/`###` headings, `- ` bullets,
 * `| a | b |` tables (separator rows skipped) and paragraphs separated by blank lines.
 *
 * @example
 * parseMarkdownLite('# Title\n\nText.\n\n- one') // [{ kind: 'heading', level: 1, text: 'Title' }, ...]
 */
export function parseMarkdownLite(source: string): DocBlock[] {
  const blocks: DocBlock[] = [];
  let para: string[] = [];
  let table: string[][] | null = null;
  const flush = () => {
    if (para.length > 0) blocks.push({ kind: 'paragraph', text: para.join(' ') });
    para = [];
    if (table) blocks.push({ kind: 'table', rows: table });
    table = null;
  };
  for (const raw of source.split(/\r?\n/)) {
    const line = raw.trim();
    const heading = /^(#{1,3})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      blocks.push({ kind: 'heading', level: heading[1]!.length as 1 | 2 | 3, text: heading[2]! });
    } else if (line.startsWith('|') && line.endsWith('|')) {
      if (para.length > 0) flush();
      if (/^\|[\s|:-]+\|$/.test(line)) continue;
      (table ??= []).push(line.slice(1, -1).split('|').map((c) => c.trim()));
    } else if (line.startsWith('- ')) {
      flush();
      blocks.push({ kind: 'bullet', text: line.slice(2) });
    } else if (line === '') flush();
    else {
      if (table) flush();
      para.push(line);
    }
  }
  flush();
  return blocks;
}

/** Wraps text at `width` characters on word boundaries. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function assertLatin1(text: string): void {
  // The standard PDF fonts carry Latin-1 only; the demo sources keep to it.
  const bad = [...text].find((ch) => (ch < ' ' && ch !== '\t') || (ch > '~' && ch < '\u00a0') || ch > '\u00ff');
  if (bad !== undefined) throw new Error(`character ${JSON.stringify(bad)} cannot be rendered in a standard PDF font: ${text.slice(0, 60)}`);
}

interface PdfLine {
  font: 'F1' | 'F2';
  size: number;
  text: string;
  /** Extra space above the line, in points. */
  gap: number;
}

/**
 * A multi-page Letter PDF in Helvetica: headings in bold, bullets with a dash, table rows with `|` between
 * cells; each line is its own positioned text object, so extracted text keeps the line structure.
 *
 * @example
 * writeFileSync('guide.pdf', buildPdfDocument('Guide', parseMarkdownLite('# Guide\n\nText.')));
 */
export function buildPdfDocument(title: string, blocks: DocBlock[]): Buffer {
  const lines: PdfLine[] = [];
  for (const b of blocks) {
    if (b.kind === 'heading') {
      const size = b.level === 1 ? 16 : b.level === 2 ? 13 : 11.5;
      wrap(b.text, b.level === 1 ? 60 : 75).forEach((t, i) => lines.push({ font: 'F2', size, text: t, gap: i === 0 ? size : 0 }));
    } else if (b.kind === 'paragraph') {
      wrap(b.text, 95).forEach((t, i) => lines.push({ font: 'F1', size: 10, text: t, gap: i === 0 ? 6 : 0 }));
    } else if (b.kind === 'bullet') {
      wrap(b.text, 90).forEach((t, i) => lines.push({ font: 'F1', size: 10, text: i === 0 ? `- ${t}` : `  ${t}`, gap: i === 0 ? 2 : 0 }));
    } else {
      b.rows.forEach((row, i) => lines.push({ font: i === 0 ? 'F2' : 'F1', size: 9.5, text: `| ${row.join(' | ')} |`, gap: i === 0 ? 6 : 0 }));
    }
  }
  const pages: string[] = [];
  let ops: string[] = [];
  let y = 740;
  for (const l of lines) {
    assertLatin1(l.text);
    const step = l.size * 1.35 + l.gap;
    if (y - step < 60 && ops.length > 0) {
      pages.push(ops.join('\n'));
      ops = [];
      y = 740;
    }
    y -= step;
    const esc = l.text.replace(/([()\\])/g, '\\$1');
    ops.push(`BT /${l.font} ${l.size} Tf 72 ${y.toFixed(1)} Td (${esc}) Tj ET`);
  }
  if (ops.length > 0) pages.push(ops.join('\n'));
  assertLatin1(title);
  const pageCount = pages.length;
  // Objects: 1 catalog, 2 pages, 3 regular font, 4 bold font, 5 info, then a page and its contents per page.
  const pageIds = pages.map((_, i) => 6 + i * 2);
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pageCount} >>`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>',
    `<< /Title (${title.replace(/([()\\])/g, '\\$1')}) /Producer (Harbor Mutual document service) >>`,
    ...pages.flatMap((stream, i) => [
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${pageIds[i]! + 1} 0 R /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> >>`,
      `<< /Length ${Buffer.byteLength(stream, 'latin1')} >>\nstream\n${stream}\nendstream`,
    ]),
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info 5 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const STYLES = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>
<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:basedOn w:val="Normal"/><w:rPr><w:b/><w:sz w:val="32"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/><w:basedOn w:val="Normal"/><w:rPr><w:b/><w:sz w:val="26"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading3"><w:name w:val="heading 3"/><w:basedOn w:val="Normal"/><w:rPr><w:b/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="ListBullet"><w:name w:val="List Bullet"/><w:basedOn w:val="Normal"/></w:style>
<w:style w:type="table" w:styleId="TableGrid"><w:name w:val="Table Grid"/></w:style>
</w:styles>`;

const NUMBERING = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:numbering xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:abstractNum w:abstractNumId="0"><w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="bullet"/><w:lvlText w:val="-"/></w:lvl></w:abstractNum>
<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>
</w:numbering>`;

/**
 * A DOCX with real Word structure: heading styles, bulleted list paragraphs (numbering part) and tables.
 *
 * @example
 * writeFileSync('guide.docx', buildDocxDocument('Guide', parseMarkdownLite('# Guide\n\n- one')));
 */
export function buildDocxDocument(title: string, blocks: DocBlock[]): Buffer {
  const run = (text: string, bold = false) => `<w:r>${bold ? '<w:rPr><w:b/></w:rPr>' : ''}<w:t xml:space="preserve">${xmlEscape(text)}</w:t></w:r>`;
  const body = blocks
    .map((b) => {
      if (b.kind === 'heading') return `<w:p><w:pPr><w:pStyle w:val="Heading${b.level}"/></w:pPr>${run(b.text)}</w:p>`;
      if (b.kind === 'paragraph') return `<w:p>${run(b.text)}</w:p>`;
      if (b.kind === 'bullet') return `<w:p><w:pPr><w:pStyle w:val="ListBullet"/><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr>${run(b.text)}</w:p>`;
      const rows = b.rows.map((row, i) => `<w:tr>${row.map((cell) => `<w:tc><w:p>${run(cell, i === 0)}</w:p></w:tc>`).join('')}</w:tr>`).join('');
      return `<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/></w:tblPr>${rows}</w:tbl>`;
    })
    .join('');
  const rel = (id: string, type: string, target: string) => `<Relationship Id="${id}" Type="http://schemas.openxmlformats.org/${type}" Target="${target}"/>`;
  const files = {
    '[Content_Types].xml': strToU8(
      '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>' +
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>' +
        '<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>' +
        '<Override PartName="/word/numbering.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml"/>' +
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>',
    ),
    '_rels/.rels': strToU8(
      `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${rel('rId1', 'officeDocument/2006/relationships/officeDocument', 'word/document.xml')}${rel('rId2', 'package/2006/relationships/metadata/core-properties', 'docProps/core.xml')}</Relationships>`,
    ),
    'docProps/core.xml': strToU8(
      `<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>${xmlEscape(title)}</dc:title><dc:creator>Harbor Mutual Underwriting</dc:creator></cp:coreProperties>`,
    ),
    'word/_rels/document.xml.rels': strToU8(
      `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${rel('rId1', 'officeDocument/2006/relationships/styles', 'styles.xml')}${rel('rId2', 'officeDocument/2006/relationships/numbering', 'numbering.xml')}</Relationships>`,
    ),
    'word/styles.xml': strToU8(STYLES),
    'word/numbering.xml': strToU8(NUMBERING),
    'word/document.xml': strToU8(
      `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${body}</w:body></w:document>`,
    ),
  };
  // A fixed timestamp keeps the archive identical from run to run.
  return Buffer.from(zipSync(files, { mtime: new Date('2026-01-05T00:00:00Z') }));
}
