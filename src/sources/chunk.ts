import type { Block, ParsedDocument } from './parse.js';
import type { Tokenizer } from './tokens.js';

/** One chunk of a document: what retrieval ranks and what a context manifest cites. */
export interface Chunk {
  ordinal: number;
  text: string;
  /** Headings above the chunk, outermost first. */
  sectionPath: string[];
  /** Character offsets of the chunk in the document text (end exclusive). */
  start: number;
  end: number;
  tokenCount: number;
}

export interface ChunkOptions {
  maxTokens: number;
  overlapTokens: number;
}

interface Unit {
  text: string;
  start: number;
  end: number;
  tokens: number;
  header?: string;
  section: string[];
  /** Starts a section: the chunk before it is closed. */
  heading: boolean;
}

// Chunking a long document gives way to other requests this often (it runs on the main thread).
const SLICE_MS = 10;

/** Slices of work between which the event loop serves other requests. */
class Slices {
  private until = performance.now() + SLICE_MS;

  /** Whether this slice has run out. */
  due(): boolean {
    return performance.now() >= this.until;
  }

  async yield(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.until = performance.now() + SLICE_MS;
  }
}

const SENTENCE = /[^.!?\n]+(?:[.!?]+|\n|$)\s*/g;
// Sentences shorter than this join the next one in a piece: counting the tokens of each of thousands of `a.` would cost more than the text is long.
const MIN_PIECE_CHARS = 24;

/** Cuts a text longer than `max` tokens into pieces: sentences, and token windows for longer sentences. */
async function split(tok: Tokenizer, slices: Slices, text: string, start: number, max: number, overlap: number): Promise<{ text: string; start: number; end: number }[]> {
  const out: { text: string; start: number; end: number }[] = [];
  let current = '';
  let currentStart = start;
  const push = () => {
    if (current.trim()) out.push({ text: current.trim(), start: currentStart, end: currentStart + current.trimEnd().length });
  };
  const piece = async (from: number, to: number) => {
    const sentence = text.slice(from, to);
    const at = start + from;
    // A piece of at most max / 3 characters holds at most max tokens (a token holds a byte or more, a character at most 3).
    if (3 * sentence.length > max && tok.withinLimit(sentence, max) === false) {
      push();
      current = '';
      const tokens: number[] = [];
      for (const part of tok.pieces(sentence)) {
        if (slices.due()) await slices.yield();
        for (const t of tok.encode(part)) tokens.push(t);
      }
      const step = Math.max(1, max - overlap);
      // Where the window starts: the decoded length of the tokens before it, while decoding gives the text back.
      let pos: number | null = 0;
      let offset = 0;
      let last = 0;
      for (let i = 0; i < tokens.length; i += step) {
        if (slices.due()) await slices.yield();
        const raw = tok.decode(tokens.slice(i, i + max));
        const window = raw.trim();
        let pStart: number;
        if (pos !== null && sentence.startsWith(raw, pos)) pStart = pos + (raw.length - raw.trimStart().length);
        else {
          // Looked for only where it can be (from the last window's start to its end, plus its own length): a search
          // to the end of the text for a window that decoding changed (a character cut in two) would be quadratic.
          const near = Math.max(0, offset - raw.length);
          const found = sentence.slice(near, offset + last + raw.length).indexOf(window);
          pStart = found >= 0 ? near + found : offset;
        }
        out.push({ text: window, start: at + pStart, end: at + pStart + window.length });
        offset = pStart + 1;
        last = raw.length;
        if (i + max >= tokens.length) break;
        const stepped = tok.decode(tokens.slice(i, i + step));
        pos = pos !== null && sentence.startsWith(stepped, pos) ? pos + stepped.length : null;
      }
      currentStart = at + sentence.length;
      return;
    }
    // One sentence per piece: the packing in chunkDocument fills chunks and carries the overlap.
    push();
    current = sentence;
    currentStart = at;
  };
  let from = -1;
  let to = 0;
  for (const m of text.matchAll(SENTENCE)) {
    if (from < 0) from = m.index;
    to = m.index + m[0].length;
    if (to - from >= MIN_PIECE_CHARS) {
      if (slices.due()) await slices.yield();
      await piece(from, to);
      from = -1;
    }
  }
  if (from >= 0) await piece(from, to);
  push();
  return out;
}

async function unitsOf(tok: Tokenizer, slices: Slices, blocks: Block[], options: ChunkOptions): Promise<Unit[]> {
  const units: Unit[] = [];
  const stack: { level: number; text: string }[] = [];
  let offset = 0;
  for (const block of blocks) {
    if (slices.due()) await slices.yield();
    const start = offset;
    // parse.ts joins blocks with a blank line.
    offset += block.text.length + 2;
    if (block.kind === 'heading') {
      const level = block.level ?? 1;
      while (stack.length > 0 && stack[stack.length - 1]!.level >= level) stack.pop();
      stack.push({ level, text: block.text.replace(/^#+\s*/, '') });
    }
    const section = stack.map((s) => s.text);
    const header = block.kind === 'table_row' ? block.header : undefined;
    const budget = options.maxTokens - (header ? tok.countTokens(header) : 0);
    const base = { section, heading: block.kind === 'heading', ...(header ? { header } : {}) };
    // Counted only up to the budget: a block over it is cut, and counting all of a long one would be wasted.
    const tokens = tok.withinLimit(block.text, Math.max(0, budget));
    if (tokens !== false) {
      units.push({ ...base, text: block.text, start, end: start + block.text.length, tokens });
      continue;
    }
    for (const piece of await split(tok, slices, block.text, start, Math.max(8, budget), options.overlapTokens)) {
      if (slices.due()) await slices.yield();
      units.push({ ...base, ...piece, tokens: tok.countTokens(piece.text), heading: false });
    }
  }
  return units;
}

/**
 * Cuts a parsed document into token-bounded chunks that follow its structure: a heading starts a new chunk,
 * blocks (paragraphs, list items, table rows) are packed whole up to `maxTokens`, a table row carries its
 * header, and each chunk repeats up to `overlapTokens` of whole blocks from the end of the previous one. A long
 * document is cut in slices of about 10 ms, between which the event loop serves other requests.
 *
 * @example
 * const chunks = await chunkDocument(parsed, { maxTokens: 400, overlapTokens: 50 }, await loadTokenizer());
 * chunks[0] // { ordinal: 0, text: '# Claims…', sectionPath: ['Claims'], start: 0, end: 812, tokenCount: 180 }
 */
export async function chunkDocument(doc: ParsedDocument, options: ChunkOptions, tok: Tokenizer): Promise<Chunk[]> {
  const slices = new Slices();
  const units = await unitsOf(tok, slices, doc.blocks, options);
  const chunks: Chunk[] = [];
  let current: Unit[] = [];
  let tokens = 0;
  const headerOf = (list: Unit[]) => (list[0]?.header && !list[0].text.startsWith(list[0].header) ? list[0].header : undefined);
  const headerTokens = (list: Unit[]) => {
    const header = headerOf(list);
    return header ? tok.countTokens(header) : 0;
  };
  const emit = () => {
    if (current.length === 0 || current.every((u) => u.heading)) return;
    const header = headerOf(current);
    const body = doc.text.slice(current[0]!.start, current[current.length - 1]!.end);
    const text = header ? `${header}\n${body}` : body;
    chunks.push({
      ordinal: chunks.length,
      text,
      sectionPath: current[current.length - 1]!.section,
      start: current[0]!.start,
      end: current[current.length - 1]!.end,
      tokenCount: tok.countTokens(text),
    });
  };
  for (const unit of units) {
    if (slices.due()) await slices.yield();
    if (unit.heading && current.some((u) => !u.heading)) {
      emit();
      current = [];
      tokens = 0;
    } else if (current.length > 0 && tokens + unit.tokens + headerTokens(current) > options.maxTokens) {
      emit();
      // Overlap: whole trailing units of the same section, within the overlap budget.
      const carry: Unit[] = [];
      let carried = 0;
      for (let i = current.length - 1; i >= 0; i--) {
        const u = current[i]!;
        if (u.heading || u.section.join('/') !== unit.section.join('/') || carried + u.tokens > options.overlapTokens) break;
        carry.unshift(u);
        carried += u.tokens;
      }
      const fits = carried + unit.tokens + (unit.header ? tok.countTokens(unit.header) : 0) <= options.maxTokens;
      current = fits ? carry : [];
      tokens = fits ? carried : 0;
    }
    current.push(unit);
    tokens += unit.tokens;
  }
  emit();
  return chunks;
}
