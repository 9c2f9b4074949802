/** Phrases that try to override a model's instructions, as found in retrieved documents or user input. */
const MARKERS: RegExp[] = [
  /\bignore (?:all |any |the )?(?:previous|prior|above|earlier) (?:instructions|prompts?|rules)\b/i,
  /\bdisregard (?:all |any |the )?(?:previous|prior|above|system) (?:instructions|prompts?|messages?)\b/i,
  /\byou are now (?:in )?(?:developer|dan|jailbreak|unrestricted) mode\b/i,
  /\b(?:reveal|print|show) (?:your|the) (?:system prompt|hidden instructions)\b/i,
  /<\s*\/?\s*(?:system|instructions?)\s*>/i,
  /\bnew instructions\s*:/i,
];

/** The prompt-injection markers a text contains (empty when none). */
export function injectionMarkers(text: string): string[] {
  return MARKERS.filter((m) => m.test(text)).map((m) => m.exec(text)?.[0] ?? m.source);
}
