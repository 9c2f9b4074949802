import { isIPv4, isIPv6 } from 'node:net';

/** Kinds of personal data Tarmac detects. */
export const PII_TYPES = ['EMAIL', 'CARD', 'IBAN', 'SSN', 'IP', 'PHONE', 'PERSON'] as const;
export type PiiType = (typeof PII_TYPES)[number];

/** One detected value: where it is and what it is (the value itself stays in the text). */
export interface PiiMatch {
  type: PiiType;
  start: number;
  end: number;
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function ibanValid(raw: string): boolean {
  const iban = raw.replace(/ /g, '');
  if (iban.length < 15 || iban.length > 34) return false;
  const moved = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of moved) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? String(code - 55) : ch;
    for (const digit of value) remainder = (remainder * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return remainder === 1;
}

interface Detector {
  type: PiiType;
  pattern: RegExp;
  /** Capture group holding the value (default: the whole match). */
  group?: number;
  valid?: (value: string) => boolean;
  /** A character every match holds: a text without it is not scanned (most texts hold no address). */
  needs?: string;
}

// Order matters: earlier detectors claim their spans first (an IBAN is not also read as a phone number).
const DETECTORS: Detector[] = [
  // The local part is bounded (64 characters, as RFC 5321 does): unbounded, a long run without a domain is rescanned from each of its characters.
  { type: 'EMAIL', pattern: /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g, needs: '@' },
  { type: 'IBAN', pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g, valid: ibanValid },
  { type: 'CARD', pattern: /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g, valid: (v) => luhn(v.replace(/[ -]/g, '')) },
  { type: 'SSN', pattern: /(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])/g, needs: '-' },
  // A dot or colon that ends a sentence or a label ("at 203.0.113.42.", "2001:db8::1: ok") is not part of the address.
  { type: 'IP', pattern: /(?<!\d\.?)\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)/g, valid: isIPv4, needs: '.' },
  { type: 'IP', pattern: /(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?<=[0-9A-Fa-f]|::)(?!:?\w)/g, valid: isIPv6, needs: ':' },
  {
    type: 'PHONE',
    pattern: /(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?!\w)/g,
    valid: (v) => {
      const digits = v.replace(/\D/g, '').length;
      return digits >= 8 && digits <= 15 && (/^[+(]/.test(v) || (v.match(/[ .-]/g) ?? []).length >= 2);
    },
  },
  { type: 'PERSON', pattern: /\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.? ([A-Z][a-z]+(?: [A-Z][a-z]+){0,2})/g, group: 1 },
  { type: 'PERSON', pattern: /\b(?:[Mm]y name is|[Nn]ame:|I am|I'm|[Nn]amed|[Cc]alled|[Cc]ustomer|[Cc]lient|[Pp]atient) ([A-Z][a-z]+(?: [A-Z][a-z]+){0,2})/g, group: 1 },
];

/**
 * Finds personal data in text: email addresses, payment cards (Luhn), IBANs (mod-97), US SSNs, IP addresses,
 * phone numbers, and person names after a title or an introduction ("Dr Jane Roe", "my name is Jane Roe").
 *
 * @example
 * detectPii('Mail jane@example.com'); // [{ type: 'EMAIL', start: 5, end: 21 }]
 */
export function detectPii(text: string): PiiMatch[] {
  // Spans claimed by earlier detectors, in order: a detector's matches come in order too, so one pass finds overlaps.
  let claimed: PiiMatch[] = [];
  for (const d of DETECTORS) {
    if (d.needs && !text.includes(d.needs)) continue;
    d.pattern.lastIndex = 0;
    const added: PiiMatch[] = [];
    let at = 0;
    for (const match of text.matchAll(d.pattern)) {
      const value = d.group ? match[d.group] : match[0];
      if (!value) continue;
      const start = (match.index ?? 0) + (d.group ? match[0].indexOf(value) : 0);
      const end = start + value.length;
      if (d.valid && !d.valid(value)) continue;
      while (at < claimed.length && claimed[at]!.end <= start) at++;
      if (at < claimed.length && claimed[at]!.start < end) continue;
      added.push({ type: d.type, start, end });
    }
    if (added.length > 0) claimed = merge(claimed, added);
  }
  return claimed;
}

/** Two lists of spans in order, as one. */
function merge(a: PiiMatch[], b: PiiMatch[]): PiiMatch[] {
  const out: PiiMatch[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) out.push(j >= b.length || (i < a.length && a[i]!.start <= b[j]!.start) ? a[i++]! : b[j++]!);
  return out;
}

/**
 * Replaces personal data with placeholders for one request: `redact` writes `<EMAIL>`; `pseudonymise` writes
 * `<EMAIL_1>`, the same placeholder for the same value, and remembers the value to restore it in the answer.
 *
 * @example
 * const p = new Pseudonymiser('pseudonymise');
 * const safe = p.apply('Call Dr Jane Roe'); // 'Call Dr <PERSON_1>'
 * p.restore('Hello <PERSON_1>'); // 'Hello Jane Roe'
 */
export class Pseudonymiser {
  readonly types = new Set<PiiType>();
  private readonly byValue = new Map<string, string>();
  private readonly byPlaceholder = new Map<string, string>();
  private readonly counters = new Map<PiiType, number>();

  constructor(readonly mode: 'redact' | 'pseudonymise') {}

  /** Text with its personal data replaced. */
  apply(text: string): string {
    const matches = detectPii(text);
    if (matches.length === 0) return text;
    let out = '';
    let at = 0;
    for (const m of matches) {
      this.types.add(m.type);
      out += text.slice(at, m.start) + this.placeholder(m.type, text.slice(m.start, m.end));
      at = m.end;
    }
    return out + text.slice(at);
  }

  private placeholder(type: PiiType, value: string): string {
    if (this.mode === 'redact') return `<${type}>`;
    const key = `${type}\u0000${value}`;
    let placeholder = this.byValue.get(key);
    if (!placeholder) {
      const n = (this.counters.get(type) ?? 0) + 1;
      this.counters.set(type, n);
      placeholder = `<${type}_${n}>`;
      this.byValue.set(key, placeholder);
      this.byPlaceholder.set(placeholder, value);
    }
    return placeholder;
  }

  /** Whether an answer may contain placeholders to restore. */
  get restores(): boolean {
    return this.byPlaceholder.size > 0;
  }

  /** Puts the original values back in place of this request's placeholders. */
  restore(text: string): string {
    if (!this.restores) return text;
    return text.replace(/<([A-Z]+)_(\d+)>/g, (whole) => this.byPlaceholder.get(whole) ?? whole);
  }

  /** A restorer for streamed text, which may split a placeholder across chunks. */
  streamRestorer(): StreamRestorer {
    return new StreamRestorer(this);
  }
}

/**
 * Restores placeholders in streamed text: holds back a trailing fragment that may be the start of a
 * placeholder until the next piece (or the end) shows what it is.
 */
export class StreamRestorer {
  private pending = '';

  constructor(private readonly p: Pseudonymiser) {}

  push(piece: string): string {
    const text = this.pending + piece;
    const tail = /<[A-Z]*(?:_\d*)?$/.exec(text);
    const cut = tail && text.length - tail.index <= 16 ? tail.index : text.length;
    this.pending = text.slice(cut);
    return this.p.restore(text.slice(0, cut));
  }

  flush(): string {
    const rest = this.p.restore(this.pending);
    this.pending = '';
    return rest;
  }
}
