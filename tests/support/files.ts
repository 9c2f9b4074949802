// Real files built in the test: a PDF (positioned text objects, xref table) and a DOCX (an Office Open XML
// zip), so parser tests read the formats as a user's files would be. The builders also render the demo
// knowledge base (scripts/build-demo-docs.ts).
import { buildDocxDocument, buildPdfDocument } from '../../scripts/office-files.js';

/** A PDF whose text is `lines`, one paragraph per line, in Helvetica. */
export function buildPdf(lines: string[]): Buffer {
  return buildPdfDocument(lines[0] ?? '', lines.map((text) => ({ kind: 'paragraph', text })));
}

/** A DOCX with a Heading 1, paragraphs and a bulleted list. */
export function buildDocx(heading: string, paragraphs: string[], bullets: string[] = []): Buffer {
  return buildDocxDocument(heading, [
    { kind: 'heading', level: 1, text: heading },
    ...paragraphs.map((text) => ({ kind: 'paragraph' as const, text })),
    ...bullets.map((text) => ({ kind: 'bullet' as const, text })),
  ]);
}
