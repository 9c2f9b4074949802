// Builds the PDF and DOCX files of the demo knowledge base from their text sources:
// scripts/demo-docs/<path>.pdf.md becomes examples/knowledge/<path>.pdf (likewise .docx.md).
// Run: node --import tsx scripts/build-demo-docs.ts   (the demo test checks the committed files are current)
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDocxDocument, buildPdfDocument, parseMarkdownLite } from './office-files.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const DEMO_DOCS_SOURCE = path.join(ROOT, 'scripts', 'demo-docs');
export const DEMO_KNOWLEDGE = path.join(ROOT, 'examples', 'knowledge');

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = path.join(dir, name);
      return statSync(full).isDirectory() ? walk(full) : [full];
    });
}

/**
 * Renders every source to its file bytes, keyed by the path relative to examples/knowledge.
 *
 * @example
 * renderDemoDocs().get('homeowners/state-exceptions.pdf') // Buffer starting with %PDF-1.4
 */
export function renderDemoDocs(): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const file of walk(DEMO_DOCS_SOURCE)) {
    const match = /\.(pdf|docx)\.md$/.exec(file);
    if (!match) continue;
    const rel = path.relative(DEMO_DOCS_SOURCE, file).split(path.sep).join('/').replace(/\.md$/, '');
    const blocks = parseMarkdownLite(readFileSync(file, 'utf8'));
    const first = blocks[0];
    const title = first?.kind === 'heading' ? first.text : path.basename(rel);
    out.set(rel, match[1] === 'pdf' ? buildPdfDocument(title, blocks) : buildDocxDocument(title, blocks));
  }
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const [rel, bytes] of renderDemoDocs()) {
    const target = path.join(DEMO_KNOWLEDGE, rel);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, bytes);
    console.log(`wrote examples/knowledge/${rel} (${bytes.length} bytes)`);
  }
}
